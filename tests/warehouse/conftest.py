"""Fixtures: the shop on each engine, four of its tables mapped to the business's own sources."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import ibis
import pytest

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.engine.check import mapped_tables
from segmentum.engine.connection import Engine
from segmentum.engine.mapped import native_catalog
from tests.corpus.conftest import ENGINE_PARAMS
from tests.corpus.engines import EngineWorkspace, open_workspace
from tests.corpus.shop import CATALOG, DATA
from tests.engine_fixtures import SPARK_CONNECT, fresh_engine
from tests.warehouse.business import create_sources


@dataclass
class MappedShop:
    kind: str
    engine: Engine
    settings: WorkspaceSettings
    native: EngineWorkspace

    @property
    def tables(self) -> dict[str, ibis.Table]:
        """Segmentum's own tables plus the mapped ones: what the compiler gets."""
        return {**self.native.tables, **mapped_tables(self.engine, CATALOG, self.settings)}


#: The corpus engines, plus Spark through Spark Connect: the way a production cluster is
#: reached (gRPC only, no JVM in our process), the same definitions and expected members.
WAREHOUSE_ENGINES = [
    *ENGINE_PARAMS,
    pytest.param(SPARK_CONNECT, id=SPARK_CONNECT, marks=pytest.mark.spark),
]


@pytest.fixture(scope="module", params=WAREHOUSE_ENGINES)
def mapped_shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MappedShop]:
    """One engine per module: the business's sources plus Segmentum's unmapped tables."""
    directory = tmp_path_factory.mktemp(f"warehouse_{request.param}")
    suffix = f"_{uuid.uuid4().hex[:8]}"
    probe_settings = create_settings_placeholder()
    native = native_catalog(CATALOG, probe_settings.table_mappings)
    engine, cleanup = fresh_engine(request, request.param, native)
    settings = create_sources(engine, directory, suffix)
    workspace = open_workspace(request.param, engine, native)
    workspace.load({name: rows for name, rows in DATA.items() if name in workspace.table_names})
    yield MappedShop(request.param, engine, settings, workspace)
    if request.param in ("pyspark", SPARK_CONNECT):
        for database in (f"crm{suffix}",):
            engine.raw_sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
    cleanup()


def create_settings_placeholder() -> WorkspaceSettings:
    """Which tables are mapped (the sources' names do not matter for the native catalog)."""
    from tests.warehouse.business import mapped_settings

    return mapped_settings("crm", "sales", None)
