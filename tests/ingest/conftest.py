"""Ingest fixtures: file writers, a workspace on each engine, a query helper for both.

``workspace`` (overriding the root one here) is parametrized over DuckDB and PostgreSQL, so
every ingest test that uses it runs on both with identical expectations; the PostgreSQL run is
marked ``postgres`` and uses a fresh database from ``engine_factory``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from segmentum.engine.connection import EngineKind
from segmentum.service.workspace import Workspace
from tests.engine_fixtures import engine_factory, postgres_url  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"

#: ibis 12 calls DuckDB's deprecated fetch_arrow_table(); not ours to fix (see the report).
_IBIS_DUCKDB_DEPRECATION = "ignore:fetch_arrow_table.. is deprecated:DeprecationWarning"

ENGINES = [
    pytest.param(EngineKind.DUCKDB, id="duckdb"),
    pytest.param(EngineKind.POSTGRES, id="postgres", marks=pytest.mark.postgres),
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings(_IBIS_DUCKDB_DEPRECATION))


@pytest.fixture(params=ENGINES)
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace whose data engine (and app store) is DuckDB or PostgreSQL."""
    if request.param is EngineKind.DUCKDB:
        ws = Workspace.open(str(tmp_path / "test.duckdb"))
    else:
        engine = request.getfixturevalue("engine_factory")(EngineKind.POSTGRES)
        ws = Workspace.open(engine.secret_url)
    yield ws
    ws.close()


def rows(ws: Workspace, sql: str) -> list[tuple[Any, ...]]:
    """All rows of ``sql`` on the workspace's data engine (DuckDB or PostgreSQL)."""
    if ws.engine.kind is EngineKind.POSTGRES:
        con: Any = ws.engine.backend.con
        return [tuple(row) for row in con.execute(sql).fetchall()]
    return [tuple(row) for row in ws.engine.raw_sql(sql).fetchall()]


@pytest.fixture
def write(tmp_path: Path) -> Iterator[Any]:
    def _write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return _write
