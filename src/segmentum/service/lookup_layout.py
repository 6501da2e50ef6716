"""The lookup layout: the activity tables stored uncompressed, for real-time micro-batches.

A micro-batch copies the rows of a few thousand touched customers out of 10M-row tables
through ART index lookups (``service.realtime._stage``). DuckDB fetches each looked-up row
from its compressed column segments, at ~15 µs per row and column; from uncompressed segments
the same lookups are 5-10x faster (docs/realtime.md has the figures). The rewrite also
stores each table's rows clustered by customer (order items by their order's customer), so
one customer's rows share a few vectors instead of being spread over the whole table: a
batch of 1,500 customers is staged in 229 ms instead of 288. Order items also get their
order's customer (``realtime.ITEM_OWNER``, indexed), so they too are found by customer.
Rewriting the tables trades disk (about twice the file) and a one-off rewrite for that
speed, so it is a step the operator takes (``segmentum workspace prepare-realtime``),
recorded in the app store; the server then keeps new rows uncompressed too and lets larger
batches use index lookups (``realtime.ensure_indexes``). Rows that arrive later are
appended, unclustered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from segmentum.service.clock import now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.realtime import (
    ITEM_OWNER,
    LOOKUP_LAYOUT_KEY,
    ensure_indexes,
    owns_duckdb_tables,
)
from segmentum.service.workspace import Workspace
from segmentum.store import automations as automation_store

#: The tables micro-batches read by customer (order items by order id), and the current
#: members and timers they diff against (``realtime.MEMBER_LOOKUPS_UP_TO``).
LOOKUP_TABLES = ("events", "orders", "order_items", "returns", "customers", "subscriptions",
                 "segment_members", "realtime_timers")  # fmt: skip


@dataclass(frozen=True)
class TableRewrite:
    table: str
    rows: int
    seconds: float


@dataclass(frozen=True)
class LayoutReport:
    tables: tuple[TableRewrite, ...]
    bytes_before: int
    bytes_after: int


def _database_bytes(con: Any) -> int:
    row = con.execute("SELECT total_blocks * block_size FROM pragma_database_size()").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _clustered(table: str, columns: set[str], present: set[str]) -> str:
    """The copy's rows in the order to store them: by customer (order items: by their
    order's customer, one customer per order id so no row is repeated)."""
    copy = "__lookup_layout_copy"
    if table == "order_items" and "orders" in present and "order_id" in columns:
        return (  # ITEM_OWNER filled on the way
            f"SELECT c.* EXCLUDE ({ITEM_OWNER}), o.owner AS {ITEM_OWNER} FROM {copy} c "
            "LEFT JOIN (SELECT order_id, min(customer_id) AS owner FROM orders "
            "GROUP BY order_id) o ON o.order_id = c.order_id ORDER BY o.owner, c.order_id"
        )
    if "customer_id" in columns:
        return f"SELECT * FROM {copy} ORDER BY customer_id"
    return f"SELECT * FROM {copy}"


def _rewrite(con: Any, quote: Callable[[str], str], table: str, present: set[str]) -> int:
    """Rewrite one table in place, in one transaction: its rows are written again, clustered
    (``_clustered``), under the connection's ``force_compression`` (uncompressed) at the
    checkpoint that follows. Its indexes are dropped first and created again after (an ART
    index would be updated row by row)."""
    quoted = quote(table)
    columns = {
        str(row[0])
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() "
            "WHERE table_name = ? AND database_name = current_database()",
            [table],
        ).fetchall()
    }
    indexes = con.execute(
        "SELECT index_name, sql FROM duckdb_indexes() "
        "WHERE table_name = ? AND database_name = current_database()",
        [table],
    ).fetchall()
    for name, _ in indexes:
        con.execute(f"DROP INDEX {quote(str(name))}")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE TEMP TABLE __lookup_layout_copy AS SELECT * FROM {quoted}")
        rows = int(con.execute("SELECT count(*) FROM __lookup_layout_copy").fetchone()[0])
        con.execute(f"DELETE FROM {quoted}")
        con.execute(f"INSERT INTO {quoted} BY NAME {_clustered(table, columns, present)}")
        written = int(con.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])
        if written != rows:  # pragma: no cover - the clustering query keeps every row once
            raise ServiceError(f"the rewrite gave {written:,} rows for {rows:,}")
        con.execute("DROP TABLE __lookup_layout_copy")
        con.execute("COMMIT")
    except Exception as error:
        con.execute("ROLLBACK")
        for _, sql in indexes:
            con.execute(sql)
        raise ServiceError(f"cannot rewrite {table} (nothing changed): {error}") from error
    con.execute("CHECKPOINT")
    for _, sql in indexes:
        con.execute(sql)
    return rows


def _check_engine(ws: Workspace) -> None:
    if not owns_duckdb_tables(ws):
        raise ServiceError(
            "the lookup layout is for a DuckDB workspace that holds its own tables "
            "(warehouse mode reads the business's tables, which Segmentum does not rewrite)"
        )


def _rewrite_tables(
    ws: Workspace, tables: list[str], present: set[str], progress: Callable[[str], None] | None
) -> list[TableRewrite]:
    con = ws.engine.backend.con
    done: list[TableRewrite] = []
    con.execute("SET enable_progress_bar = false")  # our callers report progress themselves
    con.execute("SET force_compression = 'uncompressed'")
    try:
        for table in tables:
            if progress is not None:
                progress(table)
            started = time.perf_counter()
            rows = _rewrite(con, ws.engine.quote, table, present)
            done.append(TableRewrite(table, rows, time.perf_counter() - started))
    finally:
        con.execute("RESET force_compression")
    return done


def _record(ws: Workspace, rows: dict[str, int]) -> None:
    automation_store.set_state_value(
        ws.store, LOOKUP_LAYOUT_KEY, json.dumps({"at": now_utc().isoformat(), "rows": rows})
    )


def _present(ws: Workspace) -> set[str]:
    con = ws.engine.backend.con
    return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def prepare(ws: Workspace, progress: Callable[[str], None] | None = None) -> LayoutReport:
    """Rewrite the lookup tables uncompressed, build the micro-batch indexes, record it."""
    _check_engine(ws)
    con = ws.engine.backend.con
    present = _present(ws)
    before = _database_bytes(con)
    if {"orders", "order_items"} <= present:  # filled by the rewrite (``_clustered``)
        con.execute(f"ALTER TABLE order_items ADD COLUMN IF NOT EXISTS {ITEM_OWNER} VARCHAR")
    done = _rewrite_tables(ws, [t for t in LOOKUP_TABLES if t in present], present, progress)
    _record(ws, {t.table: t.rows for t in done})
    ensure_indexes(ws)
    con.execute("CHECKPOINT")
    return LayoutReport(tuple(done), before, _database_bytes(con))


def complete(ws: Workspace) -> tuple[TableRewrite, ...]:
    """Rewrite the lookup tables that a layout prepared by an earlier version left out (it
    was recorded without ``segment_members`` and ``realtime_timers``): the server calls this
    when it starts, so a workspace prepared before gets the whole layout once (3.8M members:
    1.2-7.5 s)."""
    recorded = automation_store.get_state(ws.store, LOOKUP_LAYOUT_KEY)
    if not recorded or not owns_duckdb_tables(ws):
        return ()
    rows: dict[str, int] = dict(json.loads(recorded).get("rows", {}))
    present = _present(ws)
    missing = [t for t in LOOKUP_TABLES if t in present and t not in rows]
    if not missing:
        return ()
    done = _rewrite_tables(ws, missing, present, None)
    _record(ws, rows | {t.table: t.rows for t in done})
    return tuple(done)
