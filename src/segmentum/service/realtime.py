"""Real-time membership use cases: micro-batches of touched customers, timers, boundaries.

* ``apply_batch`` re-evaluates the touched customers for the segments whose dependency sets
  the written tables / event types can affect (``compiler.dependencies``), with the stored
  ranking boundaries, and logs the changes with the event time as ``effective_at``.
* ``run_timers`` wakes the customers whose ``next_flip_at`` has come (the timer index) and
  re-evaluates their time-bound segments; a change is effective at the flip's instant (00:00
  local for day-based conditions). A global flip (``each_month``) runs one full refresh.
* ``after_full_refresh`` recomputes and stores the ranking boundaries and rebuilds the timer
  index (the full refresh is the scheduled recomputation).
* ``RealtimeProcessor`` is the server's subscriber to the intake's ``on_committed``: it
  collects touched customers and applies them in micro-batches under the workspace lock.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from segmentum.compiler.boundaries import (
    Boundary,
    MissingBoundariesError,
    boundaries_from_table,
    compile_all_boundaries,
    rankings_used,
)
from segmentum.compiler.dependencies import (
    Dependencies,
    affected_segments,
    columns_read,
    dependencies,
)
from segmentum.compiler.predictive import PREDICTIONS_TABLE
from segmentum.compiler.timers import TIMER_CUSTOMER_COLUMNS, compile_timers, global_flip
from segmentum.engine.connection import EngineKind
from segmentum.membership.incremental import (
    MEMBER_SCHEMA,
    apply_changes,
    evaluate_members,
    members_expr,
    scope_table,
)
from segmentum.membership.timers import compute_timers, next_flips, store_timers
from segmentum.service.clock import now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace
from segmentum.spec.external import from_external
from segmentum.store import automations as automation_store
from segmentum.store import segments as segment_store
from segmentum.store import timers as timer_store
from segmentum.store.campaigns import query_arrow
from segmentum.store.database import placeholders

log = logging.getLogger("segmentum.realtime")
_CONTEXT = "realtime.context"
_PROCESSOR = "realtime.processor"
#: Customers woken per timer round.
TIMER_BATCH = 20_000
#: From this second of each minute the server's micro-batches compile the next minute's
#: queries in the background (``precompile_next_minute``).
PRECOMPILE_FROM_SECOND = 30


@dataclass
class Context:
    key: tuple[Any, ...]
    definitions: dict[str, Any]
    versions: dict[str, int]
    deps: dict[str, Dependencies]
    boundaries: dict[str, Boundary]
    tables: dict[str, Any]
    #: Compiled SQL (DuckDB) of members / timers queries by (kind, as_of, segments).
    sql: dict[tuple[Any, ...], str] = field(default_factory=dict)
    rankings: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    scoped: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    #: First cache keys of the minutes being compiled ahead (``precompile_next_minute``).
    precompiling: set[tuple[Any, ...]] = field(default_factory=set)


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None) if instant.tzinfo else instant


def _aware(instant: datetime) -> datetime:
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant


def context(ws: Workspace) -> Context:
    """Definitions, versions, dependency sets and boundaries, cached until a segment or the
    boundaries change."""
    key = (
        ws.store.scalar("SELECT count(*) FROM segments"),
        ws.store.scalar("SELECT max(updated_at) FROM segments"),
        ws.store.scalar("SELECT max(computed_at) FROM ranking_boundaries"),
        ws.settings.model_dump_json(),
    )
    cached = ws.extras.get(_CONTEXT)
    if isinstance(cached, Context) and cached.key == key:
        return cached
    stored = segment_store.list_segments(ws.store)
    definitions = {each.name: from_external(each.definition) for each in stored}
    boundaries = {
        name: Boundary.from_json(text)
        for name, text in timer_store.load_boundaries(ws.store).items()
    }
    made = Context(
        key,
        definitions,
        {each.name: each.version for each in stored},
        dependencies(definitions, ws.catalog),
        boundaries,
        ws.tables(),
    )
    ws.extras[_CONTEXT] = made
    return made


def _time_bound(ctx: Context) -> dict[str, Any]:
    return {name: ctx.definitions[name] for name, deps in ctx.deps.items() if deps.time_bound}


# --- boundaries ---------------------------------------------------------------------------------


def recompute_boundaries(ws: Workspace, as_of: datetime, now: datetime | None = None) -> int:
    """Compute and store the cut keys of every ranking the definitions use; the count."""
    ctx = context(ws)
    if not ctx.definitions:
        timer_store.save_boundaries(ws.store, {}, as_of, now or now_utc())
        return 0
    from zoneinfo import ZoneInfo

    day = as_of.astimezone(ZoneInfo(ws.settings.timezone)).date()
    # One query for every ranking, over the ranked measures only (not the whole feature pass).
    rankings, query = compile_all_boundaries(ctx.definitions, ws.catalog, ws.settings,
                                             ws.tables(), as_of)  # fmt: skip
    rows = query.to_pyarrow().to_pylist() if query is not None else []
    computed = boundaries_from_table(rankings, rows, ws.settings.rfm.bins, day)
    payloads = {name: boundary.to_json() for name, boundary in computed.items()}
    timer_store.save_boundaries(ws.store, payloads, as_of, now or now_utc())
    ws.extras.pop(_CONTEXT, None)
    return len(payloads)


def _ensure_boundaries(ws: Workspace, ctx: Context, segments: Iterable[str],
                       as_of: datetime) -> Context:  # fmt: skip
    ranked = {name: ctx.definitions[name] for name in segments if ctx.deps[name].ranked}
    if not ranked:
        return ctx
    key = tuple(sorted(ranked))
    if key not in ctx.rankings:
        ctx.rankings[key] = set(rankings_used(ranked, ws.catalog, ws.settings, ctx.tables, as_of))
    if ctx.rankings[key] <= set(ctx.boundaries):
        return ctx
    recompute_boundaries(ws, as_of)
    return context(ws)


# --- micro-batches ------------------------------------------------------------------------------


def owns_duckdb_tables(ws: Workspace) -> bool:
    """A DuckDB workspace that holds its own tables (not warehouse mode): the micro-batches'
    fast path (staging on a cursor) and the lookup layout apply only there."""
    return ws.engine.kind is EngineKind.DUCKDB and not ws.settings.table_mappings


#: The touched customers' rows are copied into these temporary tables (one index lookup per
#: table), and the cached queries read them instead of the catalog tables.
#: From this many customers a batch reads each table with a hash semi-join (one scan)
#: instead of index lookups of a list of bound ids.
SEMI_JOIN_FROM = 500
#: Up to this many order ids the batch's order items are index lookups (order_items has an
#: ART index on order_id); more are one hash semi-join over the table.
ITEM_LOOKUPS_UP_TO = 2_000
#: The same limit once the tables are in the lookup layout (``service.lookup_layout``):
#: uncompressed rows are cheap to fetch, so index lookups stay faster than a scan far longer
#: (4,000 customers' events: 0.22 s by lookups, 0.8 s by a semi-join scan). With the rows
#: clustered by customer, 6,000 customers: a batch of 4,700 in 648 ms against 770 ms by
#: scans (equal at 9,000), and 3,114–3,180 events/s through HTTP against 2,706–2,775 with
#: 3,000 (docs/realtime.md). Order items are then found by customer too (``ITEM_OWNER``).
PREPARED_SEMI_JOIN_FROM = 6_000
#: DuckDB checkpoints the database when a commit finds the write-ahead log over this size
#: (default 16 MB), inside that commit: 0.6-0.9 s at the 1M workspace whatever the log's
#: size, stalling the intake and the micro-batches. At 3,000 events/s the log grows about
#: 0.9 MB/s, so the default meant a stall every ~18 s (commit -> visible p99 3.8-5.0 s at 16
#: clients); at 256 MB one every ~5 minutes (p99 2.2-2.5 s). The price is the log replayed
#: after a crash: 60 MB in 0.97 s. ``SEGMENTUM_CHECKPOINT_THRESHOLD`` overrides it.
SERVER_CHECKPOINT_THRESHOLD = "256MB"
CHECKPOINT_THRESHOLD_ENV = "SEGMENTUM_CHECKPOINT_THRESHOLD"
#: realtime_state key recording that the lookup layout was prepared.
LOOKUP_LAYOUT_KEY = "lookup_layout"
#: ``ws.extras`` key: ``ensure_indexes`` set the connection up for the lookup layout (the
#: higher limits are only faster with its index-scan settings).
_LOOKUPS = "realtime.lookups"
#: DuckDB chooses an index scan only below these (defaults 2,048 rows and 0.1% of the
#: table); in the lookup layout a batch's rows are fetched by index up to far more.
LOOKUP_INDEX_SCAN_MAX_COUNT = 1_000_000
LOOKUP_INDEX_SCAN_PERCENTAGE = 1.0
SCOPED = ("customers", "orders", "order_items", "returns", "events", "subscriptions",
          "manual_list_members", PREDICTIONS_TABLE)  # fmt: skip
#: In the lookup layout, ``order_items`` carries its order's customer in this column (not a
#: catalog column: no definition reads it), indexed, so a batch's items are found by its
#: customers (1,500 customers: 34 ms) instead of by their order ids (16k ids: 141 ms; 4,000
#: customers 111 against 757 ms). Kept by every writer that runs beside the server: the
#: intake (``keep_item_owners`` in its transaction), the erasure; anything else (an import
#: while the server was stopped) is repaired when the server starts (``ensure_indexes``).
ITEM_OWNER = "rt_customer_id"
#: ``ws.extras`` key: whether ``order_items`` has ``ITEM_OWNER`` (looked up once).
_ITEM_OWNER_PRESENT = "realtime.item_owner"
#: In the lookup layout ``segment_members`` and ``realtime_timers`` are stored uncompressed,
#: clustered by customer, with an index on customer_id, and a batch of up to this many
#: customers reads its current members and timers through them (quiet machine, the same
#: batches and answers: ``apply_changes`` of 3,000 customers 59 -> 46 ms, of 1,500 under load
#: 99 -> 40 ms). The price is paid by a full refresh that rewrites many members: an 820k-member
#: segment deleted 0.95 s (0.09 without the index), inserted 0.44 s (0.06), checkpoint
#: 0.73 s (0.07). Without the layout the index was slower than the pass (compressed rows:
#: 69 against 50 ms), so it is made only there.
MEMBER_LOOKUPS_UP_TO = PREPARED_SEMI_JOIN_FROM
#: Order ids per owner-keeping statement (bound values: order_id index lookups).
ITEM_OWNER_CHUNK = 2_000


def _columns(ws: Workspace, ctx: Context) -> dict[str, str]:
    """Per scoped table, the columns its staged rows keep: those the definitions can read.
    The customers' too: a profile carries names, addresses and contacts no definition reads,
    and each staged value costs an index fetch (3,000 customers: 50 ms with all 18 columns).
    """
    if not ctx.columns:
        read = columns_read(ctx.definitions, ws.catalog)
        # the timers' columns, and the definitions' own (the universe's signup_at included)
        read["customers"] = set(TIMER_CUSTOMER_COLUMNS).union(
            *(deps.customer_columns for deps in ctx.deps.values())
        )
        for name in SCOPED:
            if name in ctx.tables:
                present = list(ctx.tables[name].columns)
                wanted = read.get(name)
                ctx.columns[name] = ", ".join(
                    f'"{c}"' for c in present if wanted is None or c in wanted
                )
    return ctx.columns


def _scoped(ws: Workspace, ctx: Context) -> dict[str, Any]:
    """The tables to compile micro-batch queries against: ``rt_scope_<table>`` (temporary
    tables of the touched customers' rows, see ``_stage``) replacing the catalog tables."""
    if not ctx.scoped:
        con = ws.engine.backend.con
        columns = _columns(ws, ctx)
        for name in SCOPED:
            if name in ctx.tables:  # the schema, for compiling; rows come per batch
                # replaced: a definition saved since may read columns the last one did not
                con.execute(f"CREATE OR REPLACE TEMP TABLE rt_scope_{name} AS "
                            f"SELECT {columns[name]} FROM {name} LIMIT 0")  # fmt: skip
        ctx.scoped = {
            name: ws.engine.backend.table(f"rt_scope_{name}") if name in SCOPED else table
            for name, table in ctx.tables.items()
        }
    return ctx.scoped


@functools.lru_cache(maxsize=64)
def scoped_tables_read(*sql: str | None) -> tuple[str, ...]:
    """The ``rt_scope_<table>`` tables compiled queries read (only those are staged: a batch
    of segments that read no order items does not copy any); order items come through the
    staged orders. Cached: the search takes ~4 ms over the library's queries (31k
    characters), under the workspace lock, and a minute's batches reuse the same queries."""
    text = " ".join(each for each in sql if each)
    read = {name for name in SCOPED if re.search(rf"\brt_scope_{name}\b", text)}
    if "order_items" in read:
        read.add("orders")
    return tuple(name for name in SCOPED if name in read)


def _by_customer(table: str, many: bool, ids: list[str], column: str) -> tuple[str, list[str]]:
    """The rows of ``table`` whose ``column`` is one of ``ids``: index lookups of bound ids,
    or (``many``) a hash semi-join with ``rt_scope_ids``."""
    if many:
        return f"{table} SEMI JOIN rt_scope_ids i ON {table}.{column} = i.customer_id", []
    return f"{table} WHERE {column} IN ({placeholders(len(ids))})", ids


def _stage(
    con: Any, ctx: Context, ids: list[str], tables: Iterable[str], prepared: bool = False
) -> None:
    """Copy the rows of ``ids`` into the temporary ``rt_scope_<table>`` tables of ``con``
    (``customer_id IN (bound ids)``: index lookups; only the columns definitions read).
    ``prepared``: the tables are in the lookup layout (higher lookup limits)."""
    many = len(ids) > (PREPARED_SEMI_JOIN_FROM if prepared else SEMI_JOIN_FROM)
    if many:
        con.execute("CREATE OR REPLACE TEMP TABLE rt_scope_ids AS "
                    "SELECT unnest(?::VARCHAR[]) AS customer_id", [ids])  # fmt: skip
    for name in tables:
        if name not in ctx.columns:
            continue
        params: list[str] = []
        if name == "order_items" and prepared:  # by the owner column, as the other tables
            source, params = _by_customer(name, many, ids, ITEM_OWNER)
        elif name == "order_items":  # through the batch's orders (staged before them)
            orders = [row[0] for row in con.execute(
                "SELECT DISTINCT order_id FROM rt_scope_orders").fetchall()]  # fmt: skip
            if len(orders) > ITEM_LOOKUPS_UP_TO:
                source = ("order_items SEMI JOIN rt_scope_orders o "
                          "ON order_items.order_id = o.order_id")  # fmt: skip
            else:
                source, params = (
                    f"order_items WHERE order_id IN ({placeholders(len(orders))})",
                    orders,
                )
        else:
            source, params = _by_customer(name, many, ids, "customer_id")
        columns = ", ".join(f"{name}.{column}" for column in ctx.columns[name].split(", "))
        con.execute(f"CREATE OR REPLACE TEMP TABLE rt_scope_{name} AS "
                    f"SELECT {columns} FROM {source}", params)  # fmt: skip


@dataclass
class Plan:
    """A micro-batch's compiled queries (made under the workspace lock)."""

    ids: list[str]
    affected: list[str]
    members_sql: str | None
    timers_sql: str | None
    #: The scoped tables the queries read (``scoped_tables_read``).
    tables: tuple[str, ...] = ()
    #: The connection is set up for the lookup layout (``ensure_indexes``).
    prepared: bool = False


def plan_batch(ws: Workspace, ctx: Context, affected: list[str], as_of: datetime,
               ids: list[str]) -> Plan:  # fmt: skip
    """Compile (or take from the cache) the members and timers queries of a batch."""
    _scoped(ws, ctx)
    members_sql, timers_sql = _compiled(ws, ctx, affected, as_of)
    return Plan(ids, affected, members_sql, timers_sql,
                scoped_tables_read(members_sql, timers_sql),
                bool(ws.extras.get(_LOOKUPS)))  # fmt: skip


def _keys(ctx: Context, affected: list[str], as_of: datetime) -> list[tuple[Any, ...]]:
    keys: list[tuple[Any, ...]] = [("members", as_of, tuple(affected))] if affected else []
    return keys + ([("timers", as_of)] if _time_bound(ctx) else [])


def _compiled(ws: Workspace, ctx: Context, affected: list[str],
              as_of: datetime) -> tuple[str | None, str | None]:  # fmt: skip
    """The members and timers SQL of a batch at ``as_of`` (None: no such query), compiled
    against the scoped tables (made by ``_scoped``) or taken from the cache."""
    tables = ctx.scoped
    members_sql = timers_sql = None
    for key in _keys(ctx, affected, as_of):
        sql = ctx.sql.get(key)
        if sql is None:
            if key[0] == "members":
                expr = members_expr(ctx.definitions, affected, ws.catalog, ws.settings, tables,
                                    as_of, ctx.boundaries)  # fmt: skip
            else:
                expr = compile_timers(_time_bound(ctx), ws.catalog, ws.settings, tables, as_of)
            sql = _cache(ctx, key, str(ws.engine.backend.compile(expr)))
        if key[0] == "members":
            members_sql = sql
        else:
            timers_sql = sql
    return members_sql, timers_sql


def precompile_next_minute(ws: Workspace, ctx: Context, affected: list[str],
                           as_of: datetime) -> threading.Thread | None:  # fmt: skip
    """Compile the queries of the minute after ``as_of`` in a background thread, once per
    minute and segment set, so that no micro-batch waits for them when the minute turns
    (compiling the library's queries takes about 1 s, against 3-7 ms from the cache). The
    caller has planned a batch at ``as_of`` (scoped tables made, boundaries ensured)."""
    after = as_of + timedelta(minutes=1)
    missing = [key for key in _keys(ctx, affected, after) if key not in ctx.sql]
    if not missing or missing[0] in ctx.precompiling:
        return None
    ctx.precompiling.add(missing[0])

    def run() -> None:
        try:
            _compiled(ws, ctx, affected, after)
        except Exception:  # the batch of that minute compiles its queries itself
            log.exception("precompiling the next minute's queries failed")

    thread = threading.Thread(target=run, name="segmentum-precompile", daemon=True)
    thread.start()
    return thread


def run_plan(con: Any, ctx: Context, plan: Plan, timezone: str) -> tuple[pa.Table, pa.Table]:
    """Stage and run a plan on ``con`` (a cursor may run it outside the workspace lock):
    the members (segment, customer_id) and the next flips of the batch's customers."""
    _stage(con, ctx, plan.ids, plan.tables, plan.prepared)
    members = MEMBER_SCHEMA.empty_table()
    if plan.members_sql is not None:
        result = con.execute(plan.members_sql).fetch_arrow_table()
        members = result.rename_columns(["segment", "customer_id"]).cast(MEMBER_SCHEMA)
    timers = None
    if plan.timers_sql is not None:
        timers = next_flips(con.execute(plan.timers_sql).fetch_arrow_table(), timezone)
    return members, timers if timers is not None else next_flips(pa.table({}), timezone)


def _members(ws: Workspace, ctx: Context, segments: list[str], as_of: datetime,
             ids: list[str]) -> pa.Table:  # fmt: skip
    """Members among ``ids`` (engines other than DuckDB: ``evaluate_members``)."""
    if not owns_duckdb_tables(ws):
        return evaluate_members(ctx.definitions, segments, ws.catalog, ws.settings, ctx.tables,
                                as_of, ids, ctx.boundaries)  # fmt: skip
    plan = plan_batch(ws, ctx, segments, as_of, ids)
    return run_plan(ws.engine.backend.con, ctx, plan, ws.settings.timezone)[0]


def _timers(ws: Workspace, ctx: Context, as_of: datetime, ids: list[str] | None) -> pa.Table:
    """The next flips of ``ids`` (all customers when None)."""
    timed = _time_bound(ctx)
    if ids is None or not timed or not owns_duckdb_tables(ws):
        return compute_timers(timed, ws.catalog, ws.settings, ctx.tables, as_of, ids)
    plan = plan_batch(ws, ctx, [], as_of, ids)
    return run_plan(ws.engine.backend.con, ctx, plan, ws.settings.timezone)[1]


def _cache(ctx: Context, key: tuple[Any, ...], sql: str) -> str:
    if len(ctx.sql) > 256:  # keep the newest minute's (and the one compiled ahead)
        newest = max(k[1] for k in ctx.sql)
        for stale in [k for k in ctx.sql if k[1] < newest - timedelta(minutes=1)]:
            del ctx.sql[stale]
    ctx.sql[key] = sql
    return sql


def batch_as_of(now: datetime) -> datetime:
    """Micro-batches evaluate as of the next whole minute: the compiled queries are reused
    for a minute (records stamped up to a minute ahead count, as they would a minute later)."""
    floor = now.replace(second=0, microsecond=0)
    return floor if floor == now else floor + timedelta(minutes=1)


def lookups_prepared(ws: Workspace) -> bool:
    """Whether the tables are in the lookup layout (``segmentum workspace prepare-realtime``)."""
    return owns_duckdb_tables(ws) and bool(automation_store.get_state(ws.store, LOOKUP_LAYOUT_KEY))


def server_checkpoint_threshold() -> str:
    """The server's ``checkpoint_threshold`` (``SEGMENTUM_CHECKPOINT_THRESHOLD`` or
    ``SERVER_CHECKPOINT_THRESHOLD``), checked by DuckDB itself: a ``ServiceError`` naming
    the variable when it is not a size."""
    threshold = os.environ.get(CHECKPOINT_THRESHOLD_ENV, SERVER_CHECKPOINT_THRESHOLD)
    try:
        with duckdb.connect() as probe:
            probe.execute("SET checkpoint_threshold = ?", [threshold])
    except duckdb.Error as error:
        raise ServiceError(
            f"{CHECKPOINT_THRESHOLD_ENV}={threshold!r} is not a size such as 256MB or 1GB ({error})"
        ) from error
    return threshold


def ensure_indexes(ws: Workspace) -> None:
    """ART indexes on customer_id (order_id for items), so a micro-batch reads a few rows of
    each table instead of scanning it (DuckDB; created once, when the server starts). In the
    lookup layout, new rows stay uncompressed and index scans are allowed for whole batches
    (DuckDB settings of the server's database)."""
    if not owns_duckdb_tables(ws):
        return
    con = ws.engine.backend.con
    con.execute("SET checkpoint_threshold = ?", [server_checkpoint_threshold()])
    if lookups_prepared(ws):
        con.execute("SET force_compression = 'uncompressed'")
        con.execute(f"SET index_scan_max_count = {LOOKUP_INDEX_SCAN_MAX_COUNT:d}")
        con.execute(f"SET index_scan_percentage = {LOOKUP_INDEX_SCAN_PERCENTAGE!r}")
        repair_item_owners(ws)
        con.execute(f"CREATE INDEX IF NOT EXISTS rt_order_items_{ITEM_OWNER} "
                    f"ON order_items ({ITEM_OWNER})")  # fmt: skip
        # A batch's current members and timers by index, not a pass over the tables
        # (MEMBER_LOOKUPS_UP_TO)
        for table in ("segment_members", "realtime_timers"):
            con.execute(f"CREATE INDEX IF NOT EXISTS rt_{table}_customer_id "
                        f"ON {table} (customer_id)")  # fmt: skip
        ws.extras[_LOOKUPS] = True
    for table, column in (
        ("events", "customer_id"),
        # the intake's key check of new events (``ingest.merge``): lookups, not a join that
        # reads every stored event_id (1,600 events against 10M: 11 ms against 77 ms)
        ("events", "event_id"),
        ("orders", "customer_id"),
        ("order_items", "order_id"),
        ("returns", "customer_id"),
        ("subscriptions", "customer_id"),
        ("customers", "customer_id"),
    ):
        con.execute(f"CREATE INDEX IF NOT EXISTS rt_{table}_{column} ON {table} ({column})")


def _member_lookups(ws: Workspace) -> int:
    """``apply_changes``' ``lookups_up_to``: the index exists in the lookup layout only."""
    return MEMBER_LOOKUPS_UP_TO if ws.extras.get(_LOOKUPS) else 0


def item_owners_kept(ws: Workspace) -> bool:
    """Whether ``order_items`` has the ``ITEM_OWNER`` column (the lookup layout)."""
    present = ws.extras.get(_ITEM_OWNER_PRESENT)
    if present is None:
        present = owns_duckdb_tables(ws) and bool(ws.engine.backend.con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'order_items' "
            "AND column_name = ? AND database_name = current_database()",
            [ITEM_OWNER]).fetchone()[0])  # fmt: skip
        ws.extras[_ITEM_OWNER_PRESENT] = present
    return bool(present)


def repair_item_owners(ws: Workspace) -> int:
    """Add ``ITEM_OWNER`` to ``order_items`` when missing and set it wherever it is not its
    order's customer (rows written while the server was stopped); the rows set. One join
    of the tables: about a second at 17M items (docs/realtime.md)."""
    con = ws.engine.backend.con
    con.execute(f"ALTER TABLE order_items ADD COLUMN IF NOT EXISTS {ITEM_OWNER} VARCHAR")
    ws.extras[_ITEM_OWNER_PRESENT] = True
    row = con.execute(
        f"UPDATE order_items SET {ITEM_OWNER} = o.customer_id FROM orders o "
        f"WHERE o.order_id = order_items.order_id "
        f"AND order_items.{ITEM_OWNER} IS DISTINCT FROM o.customer_id"
    ).fetchone()
    return int(row[0]) if row else 0


def keep_item_owners(ws: Workspace, owners: Mapping[str, str]) -> None:
    """Set ``ITEM_OWNER`` of the items of ``owners``' orders (order_id -> customer), in the
    writer's transaction; nothing when the table has no such column. The items are found by
    bound order ids (the order_id index)."""
    if not owners or not item_owners_kept(ws):
        return
    con = ws.engine.backend.con
    orders = sorted(owners)
    name = f"__rt_item_owners_{threading.get_ident()}"
    con.register(name, pa.table({"order_id": orders, "customer_id": [owners[o] for o in orders]}))
    try:
        for start in range(0, len(orders), ITEM_OWNER_CHUNK):
            chunk = orders[start : start + ITEM_OWNER_CHUNK]
            con.execute(
                f"UPDATE order_items SET {ITEM_OWNER} = w.customer_id FROM {name} w "
                f"WHERE order_items.order_id IN ({placeholders(len(chunk))}) "
                f"AND w.order_id = order_items.order_id "
                f"AND order_items.{ITEM_OWNER} IS DISTINCT FROM w.customer_id",
                chunk,
            )
    finally:
        con.unregister(name)


def erase_item_owner(ws: Workspace, customer_id: str, token: str) -> None:
    """The erasure's pseudonym in ``ITEM_OWNER`` too (the id must not stay anywhere)."""
    if item_owners_kept(ws):
        ws.engine.backend.con.execute(
            f"UPDATE order_items SET {ITEM_OWNER} = ? WHERE {ITEM_OWNER} = ?", [token, customer_id]
        )


@dataclass
class Touch:
    """What arrived for one customer: tables written, event types, the event instant."""

    tables: set[str] = field(default_factory=set)
    event_types: set[str] = field(default_factory=set)
    effective_at: datetime | None = None


@dataclass
class BatchReport:
    customers: int
    segments: int
    entered: int
    exited: int
    seconds: float
    #: The server's micro-batch by phase (``BATCH_PHASES``: seconds; empty elsewhere).
    phases: dict[str, float] = field(default_factory=dict)


#: A server micro-batch's phases (``apply_unlocked``), reported by ``GET /v1/realtime``: the
#: wait for the workspace lock, planning under it, staging and evaluating on the cursor
#: (outside the lock), the second wait, and writing the result.
BATCH_PHASES = ("wait_plan", "plan", "evaluate", "wait_commit", "commit")


def _affected(ctx: Context, touched: Mapping[str, Touch]) -> list[str]:
    tables: set[str] = set()
    types: set[str] = set()
    for each in touched.values():
        tables |= each.tables
        types |= each.event_types
    return sorted(affected_segments(ctx.deps, tables, types))


def commit_batch(
    ws: Workspace,
    ctx: Context,
    touched: Mapping[str, Touch],
    affected: list[str],
    members: pa.Table,
    timers: pa.Table | None,
    now: datetime,
) -> list[Any]:
    """Write a batch's result: membership changes (effective at each customer's event time,
    never later than ``now``) and the customers' next timers."""
    ids = sorted(touched)
    lookups = _member_lookups(ws)
    changes = []
    with ws.store.transaction():  # one commit for both (each is a DuckDB WAL write)
        if affected:
            limit = _naive(now)
            effective = {
                cid: min(_naive(t.effective_at) if t.effective_at else limit, limit)
                for cid, t in touched.items()
            }
            versions = {name: ctx.versions[name] for name in affected}
            changes = apply_changes(ws.store, members, scope_table(effective), versions, now,
                                    lookups)  # fmt: skip
        if timers is not None:
            store_timers(ws.store, timers, ids, lookups)
    return changes


def _report(ids: list[str], affected: list[str], changes: list[Any], started: float) -> BatchReport:
    entered = sum(1 for c in changes if c.change == "entered")
    return BatchReport(len(ids), len(affected), entered, len(changes) - entered,
                       time.perf_counter() - started)  # fmt: skip


def apply_batch(
    ws: Workspace,
    touched: Mapping[str, Touch],
    as_of: datetime | None = None,
    now: datetime | None = None,
) -> BatchReport:
    """Re-evaluate the touched customers for the segments their records can affect (the
    caller holds the workspace)."""
    started = time.perf_counter()
    now = now or now_utc()
    as_of = as_of or batch_as_of(now)
    if not touched:
        return BatchReport(0, 0, 0, 0, 0.0)
    ctx = context(ws)
    affected = _affected(ctx, touched)
    ids = sorted(touched)
    if affected:
        ctx = _ensure_boundaries(ws, ctx, affected, as_of)
    if owns_duckdb_tables(ws):
        plan = plan_batch(ws, ctx, affected, as_of, ids)
        members, timers = run_plan(ws.engine.backend.con, ctx, plan, ws.settings.timezone)
        changes = commit_batch(ws, ctx, touched, affected, members,
                               timers if plan.timers_sql else None, now)  # fmt: skip
        return _report(ids, affected, changes, started)
    members = _members(ws, ctx, affected, as_of, ids) if affected else MEMBER_SCHEMA.empty_table()
    timers = _timers(ws, ctx, as_of, ids) if _time_bound(ctx) else None
    changes = commit_batch(ws, ctx, touched, affected, members, timers, now)
    return _report(ids, affected, changes, started)


def apply_unlocked(locked: Locked, touched: Mapping[str, Touch], cursor: Any,
                   since: datetime | None) -> BatchReport:  # fmt: skip
    """The server's micro-batch: plan under the workspace lock, stage and evaluate on a
    cursor of its own (DuckDB reads a snapshot while the intake keeps committing), write the
    result under the lock again. Other engines: ``apply_batch`` under the lock."""
    started = time.perf_counter()
    now = now_utc()
    as_of = batch_as_of(now)
    marks = [started]
    with locked() as ws:
        marks.append(time.perf_counter())
        if since is not None:
            for cid, at in _effective_times(ws, sorted(touched), since).items():
                touched[cid].effective_at = _aware(at)
        if not owns_duckdb_tables(ws):
            return apply_batch(ws, touched, now=now)
        ctx = context(ws)
        affected = _affected(ctx, touched)
        ids = sorted(touched)
        if affected:
            ctx = _ensure_boundaries(ws, ctx, affected, as_of)
        plan = plan_batch(ws, ctx, affected, as_of, ids)
        timezone = ws.settings.timezone
        if now.second >= PRECOMPILE_FROM_SECOND:
            precompile_next_minute(ws, ctx, affected, as_of)
    marks.append(time.perf_counter())
    members, timers = run_plan(cursor, ctx, plan, timezone)
    marks.append(time.perf_counter())
    with locked() as ws:
        marks.append(time.perf_counter())
        if context(ws) is not ctx:  # a definition changed meanwhile: evaluate again
            return apply_batch(ws, touched, now=now)
        changes = commit_batch(ws, ctx, touched, affected, members,
                               timers if plan.timers_sql else None, now)  # fmt: skip
    marks.append(time.perf_counter())
    report = _report(ids, affected, changes, started)
    report.phases = {phase: marks[i + 1] - marks[i] for i, phase in enumerate(BATCH_PHASES)}
    return report


def touch(
    ws: Workspace,
    customer_ids: Iterable[str],
    tables: Iterable[str],
    now: datetime | None = None,
    event_types: Iterable[str] = (),
    effective_at: datetime | None = None,
) -> BatchReport:
    """Apply one micro-batch directly (tests, the tag action, ``segmentum`` commands)."""
    written, kinds = set(tables), set(event_types)
    touched = {cid: Touch(set(written), set(kinds), effective_at) for cid in customer_ids}
    return apply_batch(ws, touched, now=now)


# --- timers -------------------------------------------------------------------------------------


def rebuild_timers(ws: Workspace, as_of: datetime) -> int:
    ctx = context(ws)
    timed = _time_bound(ctx)
    timers = compute_timers(timed, ws.catalog, ws.settings, ws.tables(), as_of)
    store_timers(ws.store, timers)
    flip = global_flip(ctx.definitions, ws.settings, as_of)
    automation_store.set_state_value(ws.store, timer_store.GLOBAL_FLIP_KEY,
                                     flip.isoformat() if flip else "")  # fmt: skip
    return int(timers.num_rows)


def run_timers(ws: Workspace, now: datetime) -> int:
    """Wake the customers whose next flip has come; returns how many were re-evaluated."""
    flip = automation_store.get_state(ws.store, timer_store.GLOBAL_FLIP_KEY)
    if flip:
        from zoneinfo import ZoneInfo

        today = now.astimezone(ZoneInfo(ws.settings.timezone)).date()
        if today >= datetime.fromisoformat(flip).date():
            from segmentum.service.membership import refresh_segments

            refresh_segments(ws, at=now)  # recomputes boundaries and timers
            return -1
    due = timer_store.due_timers(ws.store, now, TIMER_BATCH)
    if not due:
        return 0
    ctx = context(ws)
    timed = _time_bound(ctx)
    ids = [row["customer_id"] for row in due]
    if not timed:
        store_timers(ws.store, compute_timers({}, ws.catalog, ws.settings, ws.tables(), now), ids)
        return len(ids)
    ctx = _ensure_boundaries(ws, ctx, timed, now)
    members = _members(ws, ctx, sorted(timed), now, ids)
    effective = {row["customer_id"]: row["next_flip_at"] for row in due}
    versions = {name: ctx.versions[name] for name in timed}
    lookups = _member_lookups(ws)
    apply_changes(ws.store, members, scope_table(effective), versions, now, lookups)
    store_timers(ws.store, _timers(ws, ctx, now, ids), ids, lookups)
    return len(ids)


def after_full_refresh(ws: Workspace, as_of: datetime) -> None:
    """The scheduled recomputation: boundaries at the refresh's as_of, the whole timer index."""
    ws.extras.pop(_CONTEXT, None)
    try:
        recompute_boundaries(ws, as_of)
        rebuild_timers(ws, as_of)
    except MissingBoundariesError:  # pragma: no cover - recompute stores every ranking
        log.exception("boundaries missing right after their recomputation")


def status(ws: Workspace) -> dict[str, Any]:
    processor = ws.extras.get(_PROCESSOR)
    out: dict[str, Any] = {
        "timers": timer_store.timer_count(ws.store),
        "next_timer": timer_store.next_timer(ws.store),
        "boundaries_as_of": timer_store.boundaries_as_of(ws.store),
    }
    if isinstance(processor, RealtimeProcessor):
        out.update(processor.stats())
    return out


# --- the server's subscriber ----------------------------------------------------------------------

Locked = Callable[[], AbstractContextManager[Workspace]]


def _effective_times(ws: Workspace, ids: list[str], since: datetime) -> dict[str, datetime]:
    """The latest event instant of each customer's messages received since ``since``."""
    if not ids:
        return {}
    # Every customer with messages since then (several seconds' worth under load, tens of
    # thousands): kept to the batch's by Arrow, not by a Python row per customer.
    found = query_arrow(
        ws.store,
        "SELECT customer_id, max(occurred_at) AS at FROM intake_messages "
        "WHERE received_at >= ? AND occurred_at IS NOT NULL GROUP BY customer_id",
        (_naive(since),),
    )
    if found.num_rows == 0:
        return {}
    mine = found.filter(pc.is_in(found.column("customer_id"), value_set=pa.array(ids)))
    return dict(
        zip(mine.column("customer_id").to_pylist(), mine.column("at").to_pylist(), strict=True)
    )


class RealtimeProcessor:
    """Collects the touched customers of intake commits and applies them in micro-batches
    (everything waiting when the previous batch finishes is the next batch)."""

    def __init__(self, locked: Locked, max_latencies: int = 200_000) -> None:
        self._locked = locked
        self._pending: dict[str, Touch] = {}
        self._committed: list[datetime] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.latencies: list[float] = []
        #: Each micro-batch's seconds (planning, reading, writing, waits for the lock).
        self.batch_seconds: list[float] = []
        #: The same by phase (``BATCH_PHASES``).
        self.phase_seconds: dict[str, list[float]] = {phase: [] for phase in BATCH_PHASES}
        self.max_latencies = max_latencies
        self.batches = 0
        self.customers = 0
        self.changes = 0
        self.error: str | None = None
        self._cursor: Any = None

    def start(self, ws: Workspace) -> RealtimeProcessor:
        from segmentum.service import lookup_layout
        from segmentum.service.intake import on_committed

        for rewritten in lookup_layout.complete(ws):
            log.info("lookup layout completed: %s rewritten (%d rows, %.1f s)",
                     rewritten.table, rewritten.rows, rewritten.seconds)  # fmt: skip
        ensure_indexes(ws)
        self._unsubscribe = on_committed(ws, self.submit)
        # DuckDB: the micro-batches' reads run on a cursor of their own, outside the lock
        self._cursor = ws.engine.backend.con.cursor() if owns_duckdb_tables(ws) else None
        ws.extras[_PROCESSOR] = self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="segmentum-realtime", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def submit(self, committed: Any) -> None:
        """The ``on_committed`` callback (the committer's thread): queue and return."""
        with self._lock:
            for table, ids in committed.by_table.items():
                for cid in ids:
                    touch = self._pending.setdefault(cid, Touch())
                    touch.tables.add(table)
                    if table == "events":
                        touch.event_types |= set(committed.event_types)
            for cid in committed.created_customers:
                self._pending.setdefault(cid, Touch()).tables.add("customers")
            self._committed.append(committed.committed_at)
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            with self._lock:
                pending, self._pending = self._pending, {}
                committed, self._committed = self._committed, []
            if not pending:
                continue
            try:
                since = min(committed) - timedelta(seconds=5) if committed else None
                report = apply_unlocked(self._locked, pending, self._cursor, since)
            except Exception as error:  # keep serving; the next full refresh repairs
                log.exception("a real-time micro-batch failed")
                self.error = f"{type(error).__name__}: {error}"
                continue
            done = now_utc()
            self.batches += 1
            self.customers += report.customers
            self.changes += report.entered + report.exited
            self.batch_seconds.append(report.seconds)
            for phase, seconds in report.phases.items():
                self.phase_seconds[phase].append(seconds)
            for at in committed:
                self.latencies.append((done - _aware(at)).total_seconds())
            for kept in (self.latencies, self.batch_seconds, *self.phase_seconds.values()):
                if len(kept) > self.max_latencies:
                    del kept[: len(kept) - self.max_latencies]

    def stats(self) -> dict[str, Any]:
        latencies, batches = sorted(self.latencies), sorted(self.batch_seconds)
        return {
            "batches": self.batches,
            "customers": self.customers,
            "changes": self.changes,
            "commits": len(latencies),
            "latency_p50": _percentile(latencies, 50),
            "latency_p95": _percentile(latencies, 95),
            "latency_p99": _percentile(latencies, 99),
            "batch_seconds_p50": _percentile(batches, 50),
            "batch_seconds_p95": _percentile(batches, 95),
            "batch_seconds_max": batches[-1] if batches else None,
            "batch_phase_seconds": {
                phase: _p50_p95(sorted(seconds)) for phase, seconds in self.phase_seconds.items()
            },
            "error": self.error,
        }

    def reset_stats(self) -> None:
        self.latencies = []
        self.batch_seconds = []
        self.phase_seconds = {phase: [] for phase in BATCH_PHASES}
        self.batches = self.customers = self.changes = 0


def _p50_p95(ordered: list[float]) -> dict[str, float | None]:
    return {"p50": _percentile(ordered, 50), "p95": _percentile(ordered, 95)}


def _percentile(ordered: list[float], p: float) -> float | None:
    """The nearest-rank ``p`` percentile of sorted values (None when there are none)."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def start_processor(ws: Workspace, locked: Locked) -> RealtimeProcessor:
    return RealtimeProcessor(locked).start(ws)
