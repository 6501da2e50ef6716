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

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from segmentum.compiler.boundaries import (
    Boundary,
    MissingBoundariesError,
    boundary_from_rows,
    compile_boundaries,
    rankings_used,
)
from segmentum.compiler.dependencies import Dependencies, affected_segments, dependencies
from segmentum.compiler.timers import global_flip
from segmentum.membership.incremental import apply_changes, evaluate_members, scope_table
from segmentum.membership.timers import compute_timers, store_timers
from segmentum.service.clock import now_utc
from segmentum.service.workspace import Workspace
from segmentum.spec.external import from_external
from segmentum.store import automations as automation_store
from segmentum.store import segments as segment_store
from segmentum.store import timers as timer_store

log = logging.getLogger("segmentum.realtime")
_CONTEXT = "realtime.context"
_PROCESSOR = "realtime.processor"
#: Customers woken per timer round.
TIMER_BATCH = 20_000


@dataclass
class Context:
    key: tuple[Any, ...]
    definitions: dict[str, Any]
    versions: dict[str, int]
    deps: dict[str, Dependencies]
    boundaries: dict[str, Boundary]


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
    queries = compile_boundaries(ctx.definitions, ws.catalog, ws.settings, ws.tables(), as_of)
    payloads = {}
    for name, (kind, query, percent) in queries.items():
        rows = query.to_pyarrow().to_pylist()
        boundary = boundary_from_rows(kind, rows, ws.settings.rfm.bins, percent, day)
        payloads[name] = boundary.to_json()
    timer_store.save_boundaries(ws.store, payloads, as_of, now or now_utc())
    ws.extras.pop(_CONTEXT, None)
    return len(payloads)


def _ensure_boundaries(ws: Workspace, ctx: Context, segments: Iterable[str],
                       as_of: datetime) -> Context:  # fmt: skip
    ranked = {name: ctx.definitions[name] for name in segments if ctx.deps[name].ranked}
    if not ranked:
        return ctx
    used = rankings_used(ranked, ws.catalog, ws.settings, ws.tables(), as_of)
    if set(used) <= set(ctx.boundaries):
        return ctx
    recompute_boundaries(ws, as_of)
    return context(ws)


# --- micro-batches ------------------------------------------------------------------------------


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


def apply_batch(
    ws: Workspace,
    touched: Mapping[str, Touch],
    as_of: datetime | None = None,
    now: datetime | None = None,
) -> BatchReport:
    """Re-evaluate the touched customers for the segments their records can affect."""
    started = time.perf_counter()
    now = now or now_utc()
    as_of = as_of or now
    if not touched:
        return BatchReport(0, 0, 0, 0, 0.0)
    ctx = context(ws)
    tables: set[str] = set()
    types: set[str] = set()
    for each in touched.values():
        tables |= each.tables
        types |= each.event_types
    affected = sorted(affected_segments(ctx.deps, tables, types))
    ids = sorted(touched)
    if affected:
        ctx = _ensure_boundaries(ws, ctx, affected, as_of)
        members = evaluate_members(ctx.definitions, affected, ws.catalog, ws.settings,
                                   ws.tables(), as_of, ids, ctx.boundaries)  # fmt: skip
        limit = _naive(now)
        effective = {
            cid: min(_naive(t.effective_at) if t.effective_at else limit, limit)
            for cid, t in touched.items()
        }
        versions = {name: ctx.versions[name] for name in affected}
        changes = apply_changes(ws.store, members, scope_table(effective), versions, now)
    else:
        changes = []
    timed = _time_bound(ctx)
    if timed:
        store_timers(ws.store, compute_timers(timed, ws.catalog, ws.settings, ws.tables(),
                                              as_of, ids), ids)  # fmt: skip
    entered = sum(1 for c in changes if c.change == "entered")
    return BatchReport(len(ids), len(affected), entered, len(changes) - entered,
                       time.perf_counter() - started)  # fmt: skip


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
    members = evaluate_members(ctx.definitions, timed, ws.catalog, ws.settings, ws.tables(),
                               now, ids, ctx.boundaries)  # fmt: skip
    effective = {row["customer_id"]: row["next_flip_at"] for row in due}
    versions = {name: ctx.versions[name] for name in timed}
    apply_changes(ws.store, members, scope_table(effective), versions, now)
    store_timers(ws.store, compute_timers(timed, ws.catalog, ws.settings, ws.tables(), now, ids),
                 ids)  # fmt: skip
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
    rows = ws.store.query(
        "SELECT customer_id, max(occurred_at) AS at FROM intake_messages "
        "WHERE received_at >= ? AND occurred_at IS NOT NULL GROUP BY customer_id",
        (_naive(since),),
    )
    wanted = set(ids)
    return {row["customer_id"]: row["at"] for row in rows if row["customer_id"] in wanted}


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
        self.max_latencies = max_latencies
        self.batches = 0
        self.customers = 0
        self.changes = 0
        self.error: str | None = None

    def start(self, ws: Workspace) -> RealtimeProcessor:
        from segmentum.service.intake import on_committed

        self._unsubscribe = on_committed(ws, self.submit)
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
                with self._locked() as ws:
                    since = min(committed) - timedelta(seconds=5) if committed else now_utc()
                    for cid, at in _effective_times(ws, sorted(pending), since).items():
                        pending[cid].effective_at = _aware(at)
                    report = apply_batch(ws, pending)
            except Exception as error:  # keep serving; the next full refresh repairs
                log.exception("a real-time micro-batch failed")
                self.error = f"{type(error).__name__}: {error}"
                continue
            done = now_utc()
            self.batches += 1
            self.customers += report.customers
            self.changes += report.entered + report.exited
            for at in committed:
                self.latencies.append((done - _aware(at)).total_seconds())
            if len(self.latencies) > self.max_latencies:
                del self.latencies[: len(self.latencies) - self.max_latencies]

    def stats(self) -> dict[str, Any]:
        values = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not values:
                return None
            return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]

        return {
            "batches": self.batches,
            "customers": self.customers,
            "changes": self.changes,
            "commits": len(values),
            "latency_p50": pct(50),
            "latency_p95": pct(95),
            "latency_p99": pct(99),
            "error": self.error,
        }

    def reset_stats(self) -> None:
        self.latencies = []
        self.batches = self.customers = self.changes = 0


def start_processor(ws: Workspace, locked: Locked) -> RealtimeProcessor:
    return RealtimeProcessor(locked).start(ws)
