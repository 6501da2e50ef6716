"""The lookup layout (``segmentum workspace prepare-realtime``): the activity tables are
rewritten uncompressed with every row and index kept, the server's connection is set up for
it, and micro-batches give the same memberships before and after."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from segmentum.cli.app import app
from segmentum.service import lookup_layout, realtime
from segmentum.service.demo import load_demo, shop_config
from segmentum.service.errors import ServiceError
from segmentum.service.library import install_library
from segmentum.service.membership import refresh_segments
from segmentum.service.workspace import Workspace

END = date(2026, 6, 30)
NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def _snapshot(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    con = ws.engine.backend.con
    return {
        table: con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()
        for table in lookup_layout.LOOKUP_TABLES
    }


def _compressions(ws: Workspace, table: str) -> set[str]:
    rows = ws.engine.backend.con.execute(
        "SELECT DISTINCT compression FROM pragma_storage_info(?) WHERE segment_type <> 'VALIDITY'",
        [table],
    ).fetchall()
    return {row[0] for row in rows}


def _indexes(ws: Workspace) -> set[tuple[str, str]]:
    rows = ws.engine.backend.con.execute(
        "SELECT table_name, index_name FROM duckdb_indexes()"
    ).fetchall()
    return {(row[0], row[1]) for row in rows}


@pytest.fixture
def shop(tmp_path: Path) -> Workspace:
    ws = Workspace.open(str(tmp_path / "shop.duckdb"))
    load_demo(ws, shop_config(customers=400, orders=3_000, end=END, seed=3))
    install_library(ws)
    refresh_segments(ws, END)
    ws.engine.backend.con.execute("CHECKPOINT")  # the tables as stored, compressed
    return ws


def _batch(ws: Workspace, seed: int) -> dict[str, tuple[str, ...]]:
    """Members of the affected segments after one micro-batch over 120 random customers."""
    rng = random.Random(seed)
    ids = [row[0] for row in ws.engine.backend.con.execute(
        "SELECT customer_id FROM customers ORDER BY customer_id").fetchall()]  # fmt: skip
    touched = {
        cid: realtime.Touch({"events", "orders", "order_items"}, {"cart_updated"})
        for cid in rng.sample(ids, 120)
    }
    realtime.apply_batch(ws, touched, as_of=NOW, now=NOW)
    rows = ws.store.query("SELECT segment, customer_id FROM segment_members ORDER BY ALL")
    members: dict[str, list[str]] = {}
    for row in rows:
        members.setdefault(row["segment"], []).append(row["customer_id"])
    return {name: tuple(ids) for name, ids in members.items()}


def test_prepare_keeps_rows_and_indexes_and_stores_uncompressed(shop: Workspace) -> None:
    realtime.ensure_indexes(shop)
    before, indexes = _snapshot(shop), _indexes(shop)
    # stored compressed (DuckDB may leave a column uncompressed, never all of them)
    assert _compressions(shop, "events") - {"Uncompressed"}
    assert not realtime.lookups_prepared(shop)

    report = lookup_layout.prepare(shop)

    assert _snapshot(shop) == before
    assert _indexes(shop) == indexes
    assert [(t.table, t.rows) for t in report.tables] == [
        (table, len(before[table])) for table in lookup_layout.LOOKUP_TABLES
    ]
    for table in ("events", "orders", "order_items", "customers"):
        assert _compressions(shop, table) == {"Uncompressed"}, table
    # stored clustered by customer (order items by their order's customer)
    con = shop.engine.backend.con
    for table in ("events", "orders", "customers"):
        ids = [row[0] for row in con.execute(
            f"SELECT customer_id FROM {table} ORDER BY rowid").fetchall()]  # fmt: skip
        assert ids == sorted(ids), table
    owners = [row[0] for row in con.execute(
        "SELECT o.customer_id FROM order_items i JOIN orders o ON o.order_id = i.order_id "
        "ORDER BY i.rowid").fetchall()]  # fmt: skip
    assert len(owners) == len(before["order_items"])
    assert owners == sorted(owners)
    assert realtime.lookups_prepared(shop)
    key = realtime.LOOKUP_LAYOUT_KEY
    stored = shop.store.scalar("SELECT value FROM realtime_state WHERE key = ?", (key,))
    recorded = json.loads(str(stored))
    assert recorded["rows"] == {table: len(rows) for table, rows in before.items()}


def test_micro_batches_give_the_same_members_in_the_lookup_layout(
    shop: Workspace, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.duckdb"
    shop.engine.backend.con.execute("CHECKPOINT")
    shop.close()
    original = tmp_path / "shop.duckdb"
    copy.write_bytes(original.read_bytes())
    plain = Workspace.open(str(original))
    prepared = Workspace.open(str(copy))
    lookup_layout.prepare(prepared)
    realtime.ensure_indexes(plain)
    realtime.ensure_indexes(prepared)
    setting = prepared.engine.backend.con.execute(
        "SELECT current_setting('index_scan_max_count')"
    ).fetchone()
    assert setting == (realtime.LOOKUP_INDEX_SCAN_MAX_COUNT,)
    for seed in (1, 2):
        assert _batch(prepared, seed) == _batch(plain, seed)


def test_warehouse_and_other_engines_are_refused(shop: Workspace) -> None:
    mapped = shop.settings.model_copy(update={"table_mappings": {"orders": {"table": "o"}}})
    object.__setattr__(shop, "settings", mapped)
    with pytest.raises(ServiceError, match="DuckDB workspace that holds its own tables"):
        lookup_layout.prepare(shop)


def test_cli_prepare_realtime(shop: Workspace, tmp_path: Path) -> None:
    shop.engine.backend.con.execute("CHECKPOINT")
    shop.close()
    result = CliRunner().invoke(
        app, ["--db", str(tmp_path / "shop.duckdb"), "workspace", "prepare-realtime", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    tables = json.loads(result.stdout)
    assert [row["table"] for row in tables] == list(lookup_layout.LOOKUP_TABLES)
    assert {row["table"]: row["rows"] for row in tables}["customers"] == 400
