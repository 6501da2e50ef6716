"""Warehouse mode through the service layer and the CLI, on a DuckDB file workspace.

The workspace maps four tables to the business's sources (a schema in the same DuckDB file and
a Hive-partitioned Parquet folder); ``Workspace.open`` creates only the unmapped tables;
refresh evaluates over the mapped ones; a broken mapping stops every evaluation with the list
of problems, and ``segmentum workspace check`` exits 1 naming each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from segmentum.engine.connection import connect
from segmentum.service.browse import customer_subscriptions, search_customers, sendable_per_channel
from segmentum.service.consent import export_customer, forget_customer
from segmentum.service.customers import show_customer
from segmentum.service.errors import ServiceError
from segmentum.service.membership import refresh_segments
from segmentum.service.metrics import lifecycle_counts
from segmentum.service.segments import (
    DefinitionSource,
    create_segment,
    list_segments,
    members,
    preview,
)
from segmentum.service.warehouse import check_workspace
from segmentum.service.workspace import Workspace
from segmentum.store.database import open_store
from segmentum.store.migrations import migrate
from segmentum.store.workspace_settings import save_settings
from tests.corpus.engines import open_workspace
from tests.corpus.shop import DATA, SETTINGS, D
from tests.warehouse.business import MAPPED, create_sources, order_number
from tests.warehouse.test_check import EXPECTED_BROKEN, broken


@pytest.fixture
def mapped_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """The business's sources in a DuckDB file, the mapping saved before the first open."""
    path = tmp_path / "shop.duckdb"
    engine = connect(str(path))
    settings = create_sources(engine, tmp_path / "lake")
    store = open_store(None, engine)
    migrate(store)
    save_settings(store, settings)
    engine.close()
    ws = Workspace.open(str(path))
    assert ws.settings.table_mappings == settings.table_mappings
    native = open_workspace("duckdb", ws.engine, ws.catalog)
    native.table_names = [n for n in ws.catalog.tables if n not in MAPPED]
    native.load({name: rows for name, rows in DATA.items() if name not in MAPPED})
    yield ws
    ws.close()


def test_open_leaves_mapped_tables_alone(mapped_workspace: Workspace, tmp_path: Path) -> None:
    present = set(mapped_workspace.engine.backend.list_tables())
    assert not present & set(MAPPED)  # never created
    assert {"products", "events", "returns"} <= present
    path = mapped_workspace.engine.path
    mapped_workspace.close()
    again = Workspace.open(str(path))
    try:
        assert not set(again.engine.backend.list_tables()) & set(MAPPED)
        report = check_workspace(again)
        assert report.ok, report.problems
        assert {row["table"] for row in report.tables if row["mapped"]} == set(MAPPED)
    finally:
        again.close()


def test_refresh_and_listings_run_on_mapped_tables(mapped_workspace: Workspace) -> None:
    ws = mapped_workspace
    create_segment(ws, "recent", DefinitionSource(text="orders(within 30d).count() >= 1"))
    create_segment(ws, "sms", DefinitionSource(text="subscribed(sms)"))
    changes = {c["segment"]: c for c in refresh_segments(ws, D)}
    assert changes["sms"]["size"] == 2  # c01 and c27 opted in; c15 signs up later
    ids = set(members(ws, "sms", D).to_pyarrow().column("customer_id").to_pylist())
    assert ids == {"c01", "c27"}
    sizes = {row["name"]: row["size"] for row in list_segments(ws, D)}
    assert sizes == {"recent": changes["recent"]["size"], "sms": 2}
    stages = {row["stage"]: row["customers"] for row in lifecycle_counts(ws, D)}
    assert stages["zero"] == 9  # NO_ORDERS at D


def test_no_evaluation_on_a_broken_mapping(mapped_workspace: Workspace) -> None:
    ws = mapped_workspace
    create_segment(ws, "sms", DefinitionSource(text="subscribed(sms)"))
    refresh_segments(ws, D)
    log_rows = ws.store.scalar("SELECT count(*) FROM membership_log")
    ws.update_settings(broken(ws.settings))
    for attempt in (
        lambda: refresh_segments(ws, date(2024, 5, 20)),
        lambda: list_segments(ws, D),
        lambda: members(ws, "sms", D),
        lambda: preview(ws, DefinitionSource(text="subscribed(sms)"), D),
        lambda: lifecycle_counts(ws, D),
    ):
        with pytest.raises(ServiceError) as raised:
            attempt()
        message = str(raised.value)
        assert f"{len(EXPECTED_BROKEN)} problem(s)" in message
        assert "nothing was evaluated" in message
    assert ws.store.scalar("SELECT count(*) FROM membership_log") == log_rows


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "segmentum", "--db", str(db), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_workspace_check_cli(mapped_workspace: Workspace) -> None:
    path = mapped_workspace.engine.path
    assert path is not None
    good_settings = mapped_workspace.settings
    mapped_workspace.update_settings(broken(good_settings))
    mapped_workspace.close()
    result = _cli(path, "workspace", "check", "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    named = {(p["table"], p["column"], p["kind"]) for p in report["problems"]}
    assert named == EXPECTED_BROKEN
    assert all(p["message"] and p["expected"] and p["found"] for p in report["problems"])
    table = _cli(path, "workspace", "check")
    assert table.returncode == 1
    assert "7 mapping problem(s)" in table.stderr
    for column in ("customer_id", "amount", "ordered_at", "store", "local_date", "colour"):
        assert column in table.stdout
    fixed = Workspace.open(str(path))
    fixed.update_settings(good_settings)
    fixed.close()
    ok = _cli(path, "workspace", "check", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True


@pytest.fixture
def native_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """The same shop loaded into Segmentum's own tables: what a mapped workspace must equal."""
    path = tmp_path / "native.duckdb"
    engine = connect(str(path))
    store = open_store(None, engine)
    migrate(store)
    save_settings(store, SETTINGS)
    engine.close()
    ws = Workspace.open(str(path))
    open_workspace("duckdb", ws.engine, ws.catalog).load(DATA)
    yield ws
    ws.close()


#: Reads whose answer does not involve order ids (the business numbers its orders: 103, not
#: o0103) nor manual lists (the mapped fixture loads none).
PROFILE_READS: list[tuple[str, Callable[[Workspace], Any]]] = [
    ("profile_without_orders", lambda ws: show_customer(ws, "c27")),
    ("search", lambda ws: search_customers(ws, "c0", limit=50)),
    ("subscriptions", lambda ws: customer_subscriptions(ws, channel="sms")),
    ("sendable", sendable_per_channel),
]


@pytest.mark.parametrize(("name", "read"), PROFILE_READS, ids=[n for n, _ in PROFILE_READS])
def test_customer_reads_equal_the_native_workspace(
    mapped_workspace: Workspace,
    native_workspace: Workspace,
    name: str,
    read: Callable[[Workspace], Any],
) -> None:
    """Profiles, search, consent and export read the mapping, not a missing own table."""
    assert read(mapped_workspace) == read(native_workspace), name


def test_forget_names_the_warehouse_tables_it_cannot_erase(mapped_workspace: Workspace) -> None:
    ws = mapped_workspace
    result = forget_customer(ws, "c01")
    assert result["erase_in_warehouse"] == ["customers", "subscriptions", "orders"]
    events = ws.engine.table("events")
    assert events.filter(events.customer_id == "c01").count().to_pyarrow().as_py() == 0
    assert show_customer(ws, "c01")["profile"]["customer_id"] == "c01"  # the business's row


def test_profile_and_export_read_the_mapped_orders(mapped_workspace: Workspace) -> None:
    ws = mapped_workspace
    expected = sorted(
        str(order_number(row["order_id"])) for row in DATA["orders"] if row["customer_id"] == "c01"
    )
    profile = show_customer(ws, "c01", limit=1000)
    timeline_orders = sorted(e["order_id"] for e in profile["timeline"] if e["kind"] == "order")
    assert timeline_orders == expected
    exported = export_customer(ws, "c01")["data"]
    assert sorted(row["order_id"] for row in exported["orders"]) == expected
    assert [row["customer_id"] for row in exported["customers"]] == ["c01"]
