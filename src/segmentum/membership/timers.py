"""The timer index: per customer the next instant a time-bound condition can flip.

``compiler.timers.compile_timers`` gives a local ``due_date`` (the flip happens at 00:00 of
that day in the workspace timezone) and/or an instant ``due_at``; here the date becomes its
UTC instant (one zoneinfo conversion per distinct date, joined back as Arrow) and the earlier
of the two is the customer's ``next_flip_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler.timers import compile_timers
from segmentum.membership.incremental import id_table, restrict
from segmentum.spec.nodes import Node
from segmentum.store import timers as timer_store
from segmentum.store.database import AppStore
from segmentum.store.timers import TIMER_SCHEMA


def day_start(day: date, timezone: str) -> datetime:
    """00:00 of a local date as naive UTC."""
    local = datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC).replace(tzinfo=None)


def next_flips(due: pa.Table, timezone: str) -> pa.Table:
    """(customer_id, next_flip_at) from (customer_id, due_date, due_at)."""
    if due.num_rows == 0:
        return TIMER_SCHEMA.empty_table()
    dates = due.column("due_date")
    distinct = [d for d in pc.unique(dates).to_pylist() if d is not None]
    starts = pa.array([day_start(d, timezone) for d in distinct], pa.timestamp("us"))
    index = pc.index_in(dates, value_set=pa.array(distinct, pa.date32()))
    from_dates = pc.take(starts, index)
    at = due.column("due_at").cast(pa.timestamp("us"))
    both = pc.min_element_wise(from_dates, at, skip_nulls=True)
    return pa.table({"customer_id": due.column("customer_id").cast(pa.string()),
                     "next_flip_at": both}).filter(pc.is_valid(both))  # fmt: skip


def compute_timers(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Any],
    as_of: datetime,
    customer_ids: Iterable[str] | None = None,
) -> pa.Table:
    """The next flips of every customer (or of ``customer_ids`` only)."""
    if not definitions:
        return TIMER_SCHEMA.empty_table()
    source = tables if customer_ids is None else restrict(tables, id_table(customer_ids))
    due = compile_timers(definitions, catalog, settings, source, as_of).to_pyarrow()
    return next_flips(due, settings.timezone)


def store_timers(
    store: AppStore,
    timers: pa.Table,
    customer_ids: Iterable[str] | None = None,
    lookups_up_to: int = 0,
) -> None:
    scope = None if customer_ids is None else sorted(set(customer_ids))
    timer_store.replace_timers(store, timers, scope, lookups_up_to)
