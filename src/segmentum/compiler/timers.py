"""Timers: per customer, the next instant at which a time-bound condition can flip.

Every condition whose value changes with time alone yields *probes*; one aggregation per
source relation evaluates them for every customer, and the least candidate is the customer's
``due_date`` (a local date: the flip happens at its 00:00 in the workspace timezone) or
``due_at`` (an instant, for hour windows and records stamped in the future).

A candidate never comes after the true flip (filters are ignored, so a probe sees a superset
of the records; month windows use 28-day months), and it is always after ``as_of``. Waking
a customer early is harmless: the re-evaluation finds no change and computes the next
timer. Conditions that flip for everybody on the same day (``each_month``) are a *global*
flip (`global_flip`), answered by one full refresh on that day instead of a timer per
customer.

| condition | flips when |
| --- | --- |
| ``within Nd`` (``Nw``) | the oldest record in the window is N + 1 days old |
| ``within Nm`` | at the earliest 28·N + 1 days after the oldest record in the window |
| ``within Nh`` | the oldest record in the window is N hours (+1 µs) old |
| ``ago [newest, …]`` | the newest record not yet old enough becomes so |
| recency / ``recency_days`` / lifecycle compared with v | a record's age reaches v |
| ``days_since_signup`` compared with v | signup date + v (and + v + 1) |
| ``age``, ``birthday`` | the next birthday (minus N days for ``birthday within N``) |
| any record or signup after ``as_of`` | its instant |
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler.predictive import PREDICTIVE_TYPES
from segmentum.compiler.program import prepare
from segmentum.compiler.sources import INTERACTIONS, source_info
from segmentum.compiler.windows import Clock, minus_months
from segmentum.spec.nodes import (
    Aggregate,
    AggregateMeasure,
    Ago,
    Birthday,
    Comparison,
    Derived,
    Duration,
    EachMonth,
    MessageReaction,
    Metric,
    MetricMeasure,
    Node,
    Percentile,
    Recency,
    Sequence,
    Within,
    walk,
)

Table = Any
TS = dt.Timestamp(scale=6)
INSTANT = {"orders": "ordered_at", "returns": "returned_at", "events": "occurred_at"}
#: The customers columns the timers read (signup instants, signup days, birthdays).
TIMER_CUSTOMER_COLUMNS = ("customer_id", "signup_at", "signup_date", "birth_date")
_REACTIONS = (
    "message_sent", "message_delivered", "message_opened", "message_clicked", "message_replied",
    "message_unsubscribed",
)  # fmt: skip


@dataclass(frozen=True)
class DayProbe:
    """``min(local_date >= lo) + offset`` days over a relation's records (of ``types``)."""

    relation: str
    types: frozenset[str] | None
    lo: date
    offset: int


@dataclass(frozen=True)
class InstantProbe:
    """``min(instant >= lo)`` (``> lo`` when strict) ``+ offset`` over a relation's records."""

    relation: str
    types: frozenset[str] | None
    lo: datetime
    offset: timedelta
    strict: bool = False


@dataclass
class _Probes:
    clock: Clock
    catalog: Catalog
    days: set[DayProbe]
    instants: set[InstantProbe]
    signup_offsets: set[int]
    age: bool = False
    birthdays: set[int] | None = None
    relations: set[str] | None = None

    def targets(self, source: str) -> list[tuple[str, frozenset[str] | None]]:
        if source == INTERACTIONS:
            return [("orders", None), ("events", None)]
        info = source_info(self.catalog, source)
        if info is None:
            return []
        relation = "orders" if info.relation == "order_items" else info.relation
        types = frozenset({info.event_type}) if info.event_type else None
        return [(relation, types)]

    def window(self, source: str, window: Any) -> None:
        for relation, types in self.targets(source):
            assert self.relations is not None
            self.relations.add(relation)
            if isinstance(window, Within):
                self._leaving(relation, types, window.duration)
            elif isinstance(window, Ago):
                self._entering(relation, types, window.newest)
                if window.oldest is not None:
                    self._leaving(relation, types, window.oldest)

    def _leaving(self, relation: str, types: frozenset[str] | None, duration: Duration) -> None:
        clock = self.clock
        if duration.unit == "h":
            self.instants.add(
                InstantProbe(
                    relation,
                    types,
                    clock.hours_ago(duration.amount),
                    timedelta(hours=duration.amount, microseconds=1),
                )
            )
            return  # fmt: skip
        if duration.unit == "m":
            lo = minus_months(clock.today, duration.amount)
            self.days.add(DayProbe(relation, types, lo, 28 * duration.amount + 1))
            return
        days = duration.amount * (7 if duration.unit == "w" else 1)
        self.days.add(DayProbe(relation, types, clock.today - timedelta(days=days), days + 1))

    def _entering(self, relation: str, types: frozenset[str] | None, duration: Duration) -> None:
        clock = self.clock
        if duration.unit == "h":
            self.instants.add(
                InstantProbe(
                    relation,
                    types,
                    clock.hours_ago(duration.amount),
                    timedelta(hours=duration.amount),
                    strict=True,
                )
            )
            return  # fmt: skip
        if duration.unit == "m":
            lo = minus_months(clock.today, duration.amount) + timedelta(days=1)
            self.days.add(DayProbe(relation, types, lo, 28 * duration.amount))
            return
        days = duration.amount * (7 if duration.unit == "w" else 1)
        lo = clock.today - timedelta(days=days - 1)
        self.days.add(DayProbe(relation, types, lo, days))

    def ages(self, relation: str, types: frozenset[str] | None, values: Iterable[int]) -> None:
        """A record's age in days reaches each value: at d + v, for the records with
        d + v > D (pass v and v + 1 for a comparison that flips when the age exceeds v)."""
        assert self.relations is not None
        self.relations.add(relation)
        for value in values:
            if value >= 0:
                lo = self.clock.today - timedelta(days=value - 1)
                self.days.add(DayProbe(relation, types, lo, value))


def _integers(comparison: Comparison) -> list[int]:
    raw = comparison.value
    values = raw if isinstance(raw, tuple) else (raw,)
    out: set[int] = set()
    for value in values:
        if isinstance(value, bool) or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.update({math.floor(number), math.ceil(number)})
    return sorted(out)


def _crossings(comparison: Comparison) -> list[int]:
    """The ages at which ``age op v`` can flip: v (reaches) and v + 1 (exceeds)."""
    return sorted({each + extra for each in _integers(comparison) for extra in (0, 1)})


def _collect(nodes: Iterable[Node], probes: _Probes, settings: WorkspaceSettings) -> None:
    life = settings.lifecycle
    for root in nodes:
        for node in walk(root):
            if isinstance(node, Aggregate):
                if not isinstance(node.activity.window, EachMonth):
                    probes.window(node.activity.source, node.activity.window)
            elif isinstance(node, Recency):
                probes.window(node.activity.source, node.activity.window)
                for relation, types in probes.targets(node.activity.source):
                    probes.ages(relation, types, _crossings(node.comparison))
            elif isinstance(node, Sequence):
                probes.window(node.first.source, node.first.window)
            elif isinstance(node, MessageReaction):
                for event_type in _REACTIONS:
                    probes.window(event_type, node.window)
            elif isinstance(node, Percentile) and isinstance(node.measure, AggregateMeasure):
                probes.window(node.measure.activity.source, node.measure.activity.window)
            elif isinstance(node, Percentile) and isinstance(node.measure, MetricMeasure):
                _metric(probes, node.measure.metric, None, life)
            elif isinstance(node, Metric):
                _metric(probes, node.name, node.comparison, life)
            elif isinstance(node, Derived):
                if node.field == "age":
                    probes.age = True
                else:
                    probes.signup_offsets.update(_integers(node.comparison))
            elif isinstance(node, Birthday):
                assert probes.birthdays is not None
                probes.birthdays.add(node.within_days)


def _metric(probes: _Probes, name: str, comparison: Comparison | None, life: Any) -> None:
    if name == "lifecycle":
        # a stage changes when the last order (or, for returned, the earliest order of the
        # active window) becomes older than a threshold: at its date + threshold + 1
        thresholds = {life.active_days, life.pre_churn_days, life.churn_days}
        probes.ages("orders", None, sorted(t + 1 for t in thresholds))
    elif name == "recency_days" and comparison is not None:
        probes.ages("orders", None, _crossings(comparison))
    elif name not in PREDICTIVE_TYPES:
        # The other order metrics (frequency, monetary, the r/f/m scores against stored
        # boundaries, RFM groups) change with time only when an order stamped after as_of
        # comes due: its instant (the orders relation's "future" candidate).
        assert probes.relations is not None
        probes.relations.add("orders")


def global_flip(definitions: Mapping[str, Node], settings: WorkspaceSettings,
                as_of: datetime) -> date | None:  # fmt: skip
    """The next local date on which a condition flips for everybody (``each_month``: the
    first of next month), or None."""
    clock = Clock(as_of, settings.timezone)
    for node in definitions.values():
        for each in walk(node):
            if isinstance(each, Aggregate) and isinstance(each.activity.window, EachMonth):
                first = clock.today.replace(day=1)
                return (first + timedelta(days=32)).replace(day=1)
    return None


def _occurrence_after(born: Any, after: date) -> Any:
    """The first occurrence of ``born``'s month/day strictly after ``after`` (29 February on
    28 February of non-leap years)."""
    month, day = born.month(), born.day()

    def in_year(year: int) -> Any:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        fixed_day = day if leap else ibis.ifelse((month == 2) & (day == 29), 28, day)
        return ibis.date(ibis.literal(year), month, fixed_day)

    this_year = in_year(after.year)
    return ibis.ifelse(this_year > ibis.literal(after, type=dt.date), this_year,
                       in_year(after.year + 1))  # fmt: skip


def _column(name: str) -> Any:
    return lambda r: r[name]


def _day_candidate(name: str, offset: int, tomorrow: Any) -> Any:
    def build(r: Any) -> Any:
        found = r[name]
        candidate = found + ibis.interval(days=offset)
        return ibis.ifelse(found.isnull(), ibis.null(dt.date), ibis.greatest(candidate, tomorrow))

    return build


def _instant_candidate(name: str, micros: int) -> Any:
    return lambda r: r[name] + ibis.interval(microseconds=micros)


def _signup_candidate(days: int, today: Any) -> Any:
    def build(r: Any) -> Any:
        candidate = r.signup_date + ibis.interval(days=days)
        return ibis.ifelse(candidate > today, candidate, ibis.null(dt.date))

    return build


def _birthday_enters(within: int, today: date) -> Any:
    after = today + timedelta(days=within)
    return lambda r: _occurrence_after(r.birth_date, after) - ibis.interval(days=within)


def _birthday_leaves(today: date) -> Any:
    after = today - timedelta(days=1)
    return lambda r: _occurrence_after(r.birth_date, after) + ibis.interval(days=1)


def _probe_filters(
    source: Table,
    relation: str,
    day_probes: list[DayProbe],
    instant_probes: list[InstantProbe],
    as_of: Any,
) -> dict[str, tuple[Any, Any]]:
    """Per aggregate column of ``relation`` (the minimum of a value over some records): the
    value (the local date for ``_d<i>``, the instant otherwise) and the records it reads."""
    instant = source[INSTANT[relation]]
    out: dict[str, tuple[Any, Any]] = {f"{relation}_future": (instant, instant > as_of)}
    for index, probe in enumerate(day_probes):
        where = source.local_date >= ibis.literal(probe.lo, type=dt.date)
        if probe.types is not None:
            where = where & source.type.isin(sorted(probe.types))
        out[f"{relation}_d{index}"] = (source.local_date, where)
    for index, iprobe in enumerate(instant_probes):
        lo = ibis.literal(iprobe.lo, type=TS)
        where = (instant > lo) if iprobe.strict else (instant >= lo)
        if iprobe.types is not None:
            where = where & source.type.isin(sorted(iprobe.types))
        out[f"{relation}_i{index}"] = (instant, where)
    return out


def compile_timers(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Table],
    as_of: datetime,
) -> Table:
    """``customer_id, due_date, due_at`` for every customer with a coming flip (at least one
    of the two set); ``due_date`` is a local date, ``due_at`` a naive UTC instant."""
    clock = Clock(as_of, settings.timezone)
    probes = _Probes(clock, catalog, set(), set(), set(), birthdays=set(), relations=set())
    _collect(prepare(definitions).values(), probes, settings)
    assert probes.relations is not None
    assert probes.birthdays is not None
    today = clock.today
    tomorrow = ibis.literal(today + timedelta(days=1), type=dt.date)
    as_of_lit = ibis.literal(clock.as_of_utc, type=TS)
    customers = tables["customers"]
    rel = customers.select(*TIMER_CUSTOMER_COLUMNS)
    dates: list[Any] = []  # builders: feature relation -> candidate local date
    instants: list[Any] = [
        lambda r: ibis.ifelse(r.signup_at > as_of_lit, r.signup_at, ibis.null(TS))
    ]
    for relation in sorted(probes.relations):
        if relation not in tables:
            continue
        source = tables[relation]
        day_probes = sorted((p for p in probes.days if p.relation == relation), key=repr)
        instant_probes = sorted((p for p in probes.instants if p.relation == relation), key=repr)
        # Only the records some probe reads are aggregated (recent ones, mostly): a customer
        # without any gets NULL from the join, as from an aggregate that filtered them all.
        wanted = _probe_filters(source, relation, day_probes, instant_probes, as_of_lit)
        source = source.filter(ibis.or_(*[where for _, where in wanted.values()]))
        read = _probe_filters(source, relation, day_probes, instant_probes, as_of_lit)
        columns = {name: value.min(where=where) for name, (value, where) in read.items()}
        for index, probe in enumerate(day_probes):
            dates.append(_day_candidate(f"{relation}_d{index}", probe.offset, tomorrow))
        for index, iprobe in enumerate(instant_probes):
            micros = int(iprobe.offset.total_seconds() * 1_000_000)
            instants.append(_instant_candidate(f"{relation}_i{index}", micros))
        instants.append(_column(f"{relation}_future"))
        agg = source.group_by(_tcid=source.customer_id).aggregate(**columns)
        rel = rel.left_join(agg, rel.customer_id == agg._tcid).drop("_tcid")
    today_lit = ibis.literal(today, type=dt.date)
    for offset in sorted(probes.signup_offsets):
        for extra in (0, 1):
            dates.append(_signup_candidate(offset + extra, today_lit))
    if probes.age:
        dates.append(lambda r: _occurrence_after(r.birth_date, today))
    for within in sorted(probes.birthdays):
        dates.append(_birthday_enters(within, today))
        dates.append(_birthday_leaves(today))
    dates = [build(rel) for build in dates]
    instants = [build(rel) for build in instants]
    due_date = ibis.least(*[d.cast(dt.date) for d in dates]) if dates else ibis.null(dt.date)
    due_at = ibis.least(*[i.cast(TS) for i in instants])
    out = rel.select("customer_id", due_date=due_date, due_at=due_at)
    return out.filter(out.due_date.notnull() | out.due_at.notnull())
