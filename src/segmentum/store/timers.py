"""The timer index (customer → next instant a time-bound condition can flip) and the stored
ranking boundaries, in the app store (naive UTC instants)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from segmentum.engine.connection import EngineKind
from segmentum.store.campaigns import insert_arrow
from segmentum.store.database import AppStore

TIMER_SCHEMA = pa.schema([("customer_id", pa.string()), ("next_flip_at", pa.timestamp("us"))])
GLOBAL_FLIP_KEY = "timers.global_flip"
_views = itertools.count()


def naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None) if instant.tzinfo else instant


def replace_timers(store: AppStore, timers: pa.Table, scope: list[str] | None) -> None:
    """Store ``timers`` (customer_id, next_flip_at); ``scope`` None replaces the whole index,
    else only the rows of the customers in ``scope`` (those without a timer are removed)."""
    timers = timers.select(TIMER_SCHEMA.names).cast(TIMER_SCHEMA)
    with store.transaction():
        if scope is None:
            store.execute("DELETE FROM realtime_timers")
        elif scope:
            _delete_scope(store, scope)
        insert_arrow(store, "realtime_timers", timers, TIMER_SCHEMA.names)


def _delete_scope(store: AppStore, scope: list[str]) -> None:
    if store.kind is EngineKind.DUCKDB:
        view = f"timer_scope_{next(_views)}"
        store.connection.register(view, pa.table({"customer_id": pa.array(scope, pa.string())}))
        try:
            store.execute(
                f"DELETE FROM realtime_timers WHERE customer_id IN (SELECT customer_id FROM {view})"
            )
        finally:
            store.connection.unregister(view)
        return
    store.executemany("DELETE FROM realtime_timers WHERE customer_id = ?", [(c,) for c in scope])


def due_timers(store: AppStore, now: datetime, limit: int = 50_000) -> list[dict[str, Any]]:
    return store.query(
        "SELECT customer_id, next_flip_at FROM realtime_timers WHERE next_flip_at <= ? "
        "ORDER BY next_flip_at, customer_id LIMIT ?",
        (naive(now), limit),
    )


def next_timer(store: AppStore) -> datetime | None:
    value = store.scalar("SELECT min(next_flip_at) FROM realtime_timers")
    return value if isinstance(value, datetime) else None


def timer_count(store: AppStore) -> int:
    return int(store.scalar("SELECT count(*) FROM realtime_timers") or 0)


def save_boundaries(
    store: AppStore, payloads: dict[str, str], as_of: datetime, now: datetime
) -> None:
    with store.transaction():
        store.execute("DELETE FROM ranking_boundaries")
        store.executemany(
            "INSERT INTO ranking_boundaries VALUES (?, ?, ?, ?)",
            [(name, text, naive(as_of), naive(now)) for name, text in sorted(payloads.items())],
        )


def load_boundaries(store: AppStore) -> dict[str, str]:
    rows = store.query("SELECT name, payload FROM ranking_boundaries ORDER BY name")
    return {row["name"]: row["payload"] for row in rows}


def boundaries_as_of(store: AppStore) -> datetime | None:
    value = store.scalar("SELECT max(as_of) FROM ranking_boundaries")
    return value if isinstance(value, datetime) else None
