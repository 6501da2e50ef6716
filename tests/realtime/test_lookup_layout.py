"""The lookup layout (``segmentum workspace prepare-realtime``): the activity tables are
rewritten uncompressed with every row and index kept, the server's connection is set up for
it, and micro-batches give the same memberships before and after."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from segmentum.cli.app import app
from segmentum.service import intake, lookup_layout, realtime
from segmentum.service.consent import export_customer, forget_customer
from segmentum.service.demo import load_demo, shop_config
from segmentum.service.errors import ServiceError
from segmentum.service.library import install_library
from segmentum.service.membership import refresh_segments
from segmentum.service.workspace import Workspace

END = date(2026, 6, 30)
NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def _snapshot(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's catalog columns (the layout adds ``ITEM_OWNER`` to order items)."""
    con = ws.engine.backend.con
    out = {}
    for table in lookup_layout.LOOKUP_TABLES:
        columns = (
            ", ".join(f'"{c.name}"' for c in ws.catalog.table(table).columns)
            if table not in ("segment_members", "realtime_timers")  # the app store's
            else "*"
        )
        out[table] = con.execute(f'SELECT {columns} FROM "{table}" ORDER BY ALL').fetchall()
    return out


def _owners(ws: Workspace, where: str = "TRUE") -> list[tuple[Any, ...]]:
    return ws.engine.backend.con.execute(
        f"SELECT order_id, product_id, {realtime.ITEM_OWNER} FROM order_items WHERE {where} "
        "ORDER BY ALL"
    ).fetchall()


def _true_owners(ws: Workspace, where: str = "TRUE") -> list[tuple[Any, ...]]:
    return ws.engine.backend.con.execute(
        "SELECT i.order_id, i.product_id, o.customer_id FROM order_items i "
        f"JOIN orders o ON o.order_id = i.order_id WHERE {where} ORDER BY ALL"
    ).fetchall()


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
    timers = ws.store.query("SELECT customer_id, next_flip_at FROM realtime_timers ORDER BY ALL")
    members["(timers)"] = [f"{row['customer_id']} {row['next_flip_at']}" for row in timers]
    return {name: tuple(ids) for name, ids in members.items()}


def test_prepare_keeps_rows_and_indexes_and_stores_uncompressed(shop: Workspace) -> None:
    realtime.ensure_indexes(shop)
    before, indexes = _snapshot(shop), _indexes(shop)
    # stored compressed (DuckDB may leave a column uncompressed, never all of them)
    assert _compressions(shop, "events") - {"Uncompressed"}
    assert not realtime.lookups_prepared(shop)

    report = lookup_layout.prepare(shop)

    assert _snapshot(shop) == before
    assert _indexes(shop) - indexes == {
        ("order_items", f"rt_order_items_{realtime.ITEM_OWNER}"),
        ("segment_members", "rt_segment_members_customer_id"),
        ("realtime_timers", "rt_realtime_timers_customer_id"),
    }
    assert [(t.table, t.rows) for t in report.tables] == [
        (table, len(before[table])) for table in lookup_layout.LOOKUP_TABLES
    ]
    for table in ("events", "orders", "order_items", "customers"):
        assert _compressions(shop, table) == {"Uncompressed"}, table
    # a column of one value is a constant segment whatever the setting (nothing to unpack)
    assert _compressions(shop, "segment_members") == {"Uncompressed", "Constant"}
    assert _compressions(shop, "realtime_timers") <= {"Uncompressed", "Constant"}
    # stored clustered by customer (order items by their order's customer)
    con = shop.engine.backend.con
    for table in ("events", "orders", "customers", "segment_members", "realtime_timers"):
        ids = [row[0] for row in con.execute(
            f"SELECT customer_id FROM {table} ORDER BY rowid").fetchall()]  # fmt: skip
        assert ids == sorted(ids), table
    owners = [row[0] for row in con.execute(
        "SELECT o.customer_id FROM order_items i JOIN orders o ON o.order_id = i.order_id "
        "ORDER BY i.rowid").fetchall()]  # fmt: skip
    assert len(owners) == len(before["order_items"])
    assert owners == sorted(owners)
    # every item carries its order's customer, indexed
    assert _owners(shop) == _true_owners(shop)
    assert len(_owners(shop)) == len(before["order_items"])
    assert ("order_items", f"rt_order_items_{realtime.ITEM_OWNER}") in _indexes(shop)
    assert realtime.lookups_prepared(shop)
    key = realtime.LOOKUP_LAYOUT_KEY
    stored = shop.store.scalar("SELECT value FROM realtime_state WHERE key = ?", (key,))
    recorded = json.loads(str(stored))
    assert recorded["rows"] == {table: len(rows) for table, rows in before.items()}


@pytest.mark.parametrize(
    "member_lookups_up_to",
    [
        realtime.MEMBER_LOOKUPS_UP_TO,  # the batch's current members by index
        50,  # more customers than that: one pass over segment_members
    ],
)
def test_micro_batches_give_the_same_members_in_the_lookup_layout(
    shop: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, member_lookups_up_to: int
) -> None:
    monkeypatch.setattr(realtime, "MEMBER_LOOKUPS_UP_TO", member_lookups_up_to)
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


def test_a_layout_prepared_before_member_lookups_is_completed_at_server_start(
    shop: Workspace,
) -> None:
    lookup_layout.prepare(shop)
    members = _snapshot(shop)["segment_members"]
    con = shop.engine.backend.con
    # as an earlier version left it: segment_members compressed, neither indexed nor recorded
    con.execute("DROP INDEX rt_segment_members_customer_id")
    con.execute("RESET force_compression")  # set by the server's ``ensure_indexes``
    con.execute("CREATE TEMP TABLE old_members AS SELECT * FROM segment_members")
    con.execute("DELETE FROM segment_members")
    con.execute("INSERT INTO segment_members SELECT * FROM old_members ORDER BY segment DESC")
    con.execute("CHECKPOINT")
    key = realtime.LOOKUP_LAYOUT_KEY
    recorded = json.loads(str(shop.store.scalar(
        "SELECT value FROM realtime_state WHERE key = ?", (key,))))  # fmt: skip
    del recorded["rows"]["segment_members"]
    del recorded["rows"]["realtime_timers"]
    shop.store.execute("UPDATE realtime_state SET value = ? WHERE key = ?",
                       (json.dumps(recorded), key))  # fmt: skip
    assert _compressions(shop, "segment_members") - {"Uncompressed", "Constant"}

    done = lookup_layout.complete(shop)
    realtime.ensure_indexes(shop)

    timers = _snapshot(shop)["realtime_timers"]
    assert [(t.table, t.rows) for t in done] == [
        ("segment_members", len(members)),
        ("realtime_timers", len(timers)),
    ]
    assert _snapshot(shop)["segment_members"] == members
    assert _compressions(shop, "segment_members") == {"Uncompressed", "Constant"}
    assert ("segment_members", "rt_segment_members_customer_id") in _indexes(shop)
    stored = json.loads(str(shop.store.scalar(
        "SELECT value FROM realtime_state WHERE key = ?", (key,))))  # fmt: skip
    assert stored["rows"]["segment_members"] == len(members)
    assert lookup_layout.complete(shop) == ()  # once


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


def _order(message_id: str, customer: str, order_id: str, products: list[str]) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": customer,
        "messageId": message_id,
        "event": "Order Completed",
        "timestamp": "2026-06-30T10:00:00Z",
        "properties": {
            "order_id": order_id,
            "total": 10 * len(products),
            "products": [{"product_id": p, "price": 10, "quantity": 1} for p in products],
        },
    }


def test_item_owners_are_kept_by_the_intake_the_erasure_and_the_server_start(
    shop: Workspace,
) -> None:
    lookup_layout.prepare(shop)
    received = datetime(2026, 6, 30, 10, 0, 1, tzinfo=UTC)
    con = shop.engine.backend.con
    product = con.execute("SELECT min(product_id) FROM products").fetchone()[0]
    other = con.execute("SELECT max(product_id) FROM products").fetchone()[0]

    # the intake: a new order's items get its customer, in the same transaction
    intake.process(shop, [intake.Submission([_order("m1", "C-NEW-1", "RT-O1", [product])],
                                            received)])  # fmt: skip
    assert _owners(shop, "order_id = 'RT-O1'") == [("RT-O1", product, "C-NEW-1")]
    # the same order sent again for another customer (a new message): every item follows,
    # also one the new message does not list
    intake.process(shop, [intake.Submission([_order("m2", "C-NEW-2", "RT-O1", [other])],
                                            received)])  # fmt: skip
    assert _owners(shop, "order_id = 'RT-O1'") == [
        ("RT-O1", product, "C-NEW-2"),
        ("RT-O1", other, "C-NEW-2"),
    ]
    assert _owners(shop) == _true_owners(shop)
    # the customer's data export shows the catalog's columns only
    exported = export_customer(shop, "C-NEW-2")
    assert sorted(exported["data"]["order_items"], key=lambda row: row["product_id"]) == sorted(
        [
            {"order_id": "RT-O1", "product_id": p, "quantity": 1, "unit_price": Decimal(10)}
            for p in (product, other)
        ],
        key=lambda row: row["product_id"],
    )

    # rows written by another writer (an import while the server was stopped): repaired
    # when the server starts
    con.execute(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price) "
        "SELECT order_id, ?, 1, 5 FROM orders ORDER BY order_id LIMIT 3",
        [other],
    )
    con.execute(f"UPDATE order_items SET {realtime.ITEM_OWNER} = 'stale' "
                "WHERE order_id = 'RT-O1' AND product_id = ?", [product])  # fmt: skip
    assert len(_owners(shop, f"{realtime.ITEM_OWNER} IS NULL")) == 3
    assert realtime.repair_item_owners(shop) == 4
    assert _owners(shop) == _true_owners(shop)
    assert realtime.repair_item_owners(shop) == 0

    # the erasure pseudonymises the owner column too
    customer = con.execute("SELECT customer_id FROM orders WHERE order_id = 'RT-O1'").fetchone()[0]
    answer = forget_customer(shop, customer, at=received)
    token = con.execute("SELECT customer_id FROM orders WHERE order_id = 'RT-O1'").fetchone()[0]
    assert token.startswith("erased-")
    assert answer["token"] == token
    assert _owners(shop, f"{realtime.ITEM_OWNER} = 'C-NEW-2'") == []
    assert [row[2] for row in _owners(shop, "order_id = 'RT-O1'")] == [token, token]


def test_a_workspace_prepared_before_item_owners_gets_them_at_server_start(
    shop: Workspace,
) -> None:
    lookup_layout.prepare(shop)
    con = shop.engine.backend.con
    for (index,) in con.execute(
        "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'order_items'"
    ).fetchall():
        con.execute(f"DROP INDEX {index}")  # DuckDB alters no table that has an index
    con.execute(f"ALTER TABLE order_items DROP COLUMN {realtime.ITEM_OWNER}")
    # as an earlier version left it: adding the column must work beside the order_id index
    con.execute("CREATE INDEX rt_order_items_order_id ON order_items (order_id)")
    shop.extras.clear()
    assert not realtime.item_owners_kept(shop)
    shop.extras.clear()

    realtime.ensure_indexes(shop)

    assert realtime.item_owners_kept(shop)
    assert _owners(shop) == _true_owners(shop)
    assert ("order_items", f"rt_order_items_{realtime.ITEM_OWNER}") in _indexes(shop)


def test_the_next_minutes_queries_are_compiled_ahead_and_equal_a_compile_then(
    shop: Workspace,
) -> None:
    ctx = realtime.context(shop)
    affected = sorted(ctx.definitions)
    ids = ["C0000001"]
    realtime.plan_batch(shop, ctx, affected, NOW, ids)
    after = NOW + timedelta(minutes=1)
    assert ("members", after, tuple(affected)) not in ctx.sql

    thread = realtime.precompile_next_minute(shop, ctx, affected, NOW)
    assert thread is not None
    thread.join(60)
    assert realtime.precompile_next_minute(shop, ctx, affected, NOW) is None  # once
    ahead = {key: sql for key, sql in ctx.sql.items() if key[1] == after}
    assert sorted(key[0] for key in ahead) == ["members", "timers"]

    ctx.sql.clear()
    plan = realtime.plan_batch(shop, ctx, affected, after, ids)
    assert plan.members_sql == ahead[("members", after, tuple(affected))]
    assert plan.timers_sql == ahead[("timers", after)]


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([1.0], 99, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 3.0),  # nearest rank of 1.5: round half to even -> 2
        ([0.1 * n for n in range(101)], 95, 0.1 * 95),
        ([1.0, 2.0], 100, 2.0),
    ],
)
def test_processor_percentiles(values: list[float], p: float, expected: float | None) -> None:
    assert realtime._percentile(values, p) == expected


@pytest.mark.parametrize(
    ("environment", "expected"),
    [(None, "244.1 MiB"), ("1GB", "953.6 MiB"), ("16MB", "15.2 MiB")],
)
def test_the_server_checkpoints_less_often(
    shop: Workspace, monkeypatch: pytest.MonkeyPatch, environment: str | None, expected: str
) -> None:
    if environment is None:
        monkeypatch.delenv(realtime.CHECKPOINT_THRESHOLD_ENV, raising=False)
    else:
        monkeypatch.setenv(realtime.CHECKPOINT_THRESHOLD_ENV, environment)
    realtime.ensure_indexes(shop)
    setting = shop.engine.backend.con.execute(
        "SELECT current_setting('checkpoint_threshold')"
    ).fetchone()
    assert setting == (expected,)


def test_a_bad_checkpoint_threshold_is_a_clear_error(
    shop: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(realtime.CHECKPOINT_THRESHOLD_ENV, "lots")
    with pytest.raises(ServiceError, match=r"SEGMENTUM_CHECKPOINT_THRESHOLD='lots' is not a size"):
        realtime.ensure_indexes(shop)


def test_serve_refuses_a_bad_checkpoint_threshold_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "segmentum", "--db", str(tmp_path / "w.duckdb"), "serve"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, realtime.CHECKPOINT_THRESHOLD_ENV: "lots"},
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: SEGMENTUM_CHECKPOINT_THRESHOLD='lots' is not a size such as 256MB or 1GB"
    )
    assert "Traceback" not in result.stderr
