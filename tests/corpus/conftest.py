"""The engine fixture of the corpus: one workspace per engine, loaded with the shop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.corpus.engines import EngineWorkspace, open_workspace
from tests.corpus.shop import CATALOG, DATA
from tests.engine_fixtures import fresh_engine

ENGINE_PARAMS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("pyspark", id="pyspark", marks=pytest.mark.spark),
]


@pytest.fixture(scope="module", params=ENGINE_PARAMS)
def engine_workspace(request: pytest.FixtureRequest) -> Iterator[EngineWorkspace]:
    """An engine with the catalog tables, holding the hand-built shop."""
    connection, cleanup = fresh_engine(request, request.param, CATALOG)
    workspace = open_workspace(request.param, connection, CATALOG)
    workspace.load(DATA)
    yield workspace
    cleanup()
