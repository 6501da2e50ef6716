"""PostgreSQL-only import behaviour: one transaction, no staging tables left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentum.engine.connection import EngineKind
from segmentum.ingest.importer import ImportOptions, ImportResult
from segmentum.ingest.importer import import_file as ingest_file
from segmentum.service.imports import import_file
from segmentum.service.workspace import Workspace
from tests.ingest.conftest import rows

pytestmark = pytest.mark.postgres

LEFTOVERS = "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_\\_import\\_%' AND relkind = 'r'"


@pytest.fixture
def pg_workspace(engine_factory) -> Workspace:  # type: ignore[no-untyped-def]
    engine = engine_factory(EngineKind.POSTGRES)
    ws = Workspace.open(engine.secret_url)
    yield ws
    ws.close()


def test_failure_before_commit_leaves_nothing(pg_workspace: Workspace, write) -> None:
    ws = pg_workspace
    customers = write("c.csv", "customer_id\nc1\n")
    import_file(ws, "customers", customers, ImportOptions())
    orders = write(
        "o.csv", "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,5\no2,new,2024-01-01,1\n"
    )

    def crash(result: ImportResult) -> None:
        assert result.summary.loaded == 2
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        ingest_file(
            ws.engine,
            ws.catalog,
            ws.settings,
            "orders",
            orders,
            ImportOptions(create_customers=True),
            before_commit=crash,
        )
    assert rows(ws, "SELECT count(*) FROM orders") == [(0,)]
    assert rows(ws, "SELECT customer_id FROM customers") == [("c1",)]
    assert rows(ws, LEFTOVERS) == [(0,)]
    summary = import_file(ws, "orders", orders, ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (1, {"unknown_customer": 1})
    assert rows(ws, LEFTOVERS) == [(0,)]
    assert rows(ws, "SELECT count(*) FROM imports") == [(2,)]


def test_merge_runs_in_postgres_with_all_types(pg_workspace: Workspace, tmp_path: Path) -> None:
    ws = pg_workspace
    path = tmp_path / "c.csv"
    path.write_text(
        "customer_id,first_name,tags,loyalty_member,signup_at\n"
        'c1,"Quote ""q"", comma",a;b,yes,2024-01-01T10:00:00+02:00\n'
        'c2,\\back\\slash,"[""x y"",""z""]",no,\n',
        encoding="utf-8",
    )
    first = import_file(ws, "customers", path, ImportOptions())
    again = import_file(ws, "customers", path, ImportOptions())
    assert (first.loaded, again.loaded, again.updated, again.unchanged) == (2, 0, 0, 2)
    assert rows(
        ws, "SELECT customer_id, first_name, tags, loyalty_member FROM customers ORDER BY 1"
    ) == [
        ("c1", 'Quote "q", comma', ["a", "b"], True),
        ("c2", "\\back\\slash", ["x y", "z"], False),
    ]
