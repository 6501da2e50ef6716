"""Dependency sets: what a segment definition reads (tables, event types, customer columns,
other segments), so real-time evaluation re-evaluates only the segments an arriving record can
change (docs/realtime.md).

Every definition reads ``customers`` (the universe is the customers with ``signup_at`` up to
``as_of``), so a profile write may change any segment; activity tables, event types,
subscriptions, manual lists and stored predictions are read only by the nodes that name them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from segmentum.catalog.schema import Catalog
from segmentum.compiler.predictive import PREDICTIONS_TABLE, PREDICTIVE_TYPES
from segmentum.compiler.sources import INTERACTIONS, PRODUCT_PREFIX, source_info
from segmentum.spec.nodes import (
    Activity,
    Aggregate,
    AggregateMeasure,
    Attribute,
    Birthday,
    Derived,
    EachMonth,
    Ever,
    HasTag,
    ManualList,
    MessageReaction,
    Metric,
    MetricMeasure,
    Node,
    Percentile,
    Recency,
    SegmentRef,
    Sequence,
    Subscription,
    walk,
)

#: Every event type (``interactions`` reads them all).
ANY_EVENT = "*"
#: Metrics computed from orders (RFM, lifecycle).
ORDER_METRICS = frozenset(
    {"lifecycle", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
     "rfm_group"}
)  # fmt: skip
RANKED_METRICS = frozenset({"r_score", "f_score", "m_score", "rfm_group"})
_DERIVED_COLUMNS = {"age": "birth_date", "days_since_signup": "signup_date"}
_REACTION_EVENTS = (
    "message_sent", "message_delivered", "message_opened", "message_clicked", "message_replied",
    "message_unsubscribed",
)  # fmt: skip


@dataclass(frozen=True)
class Dependencies:
    """What one definition (its references included) reads."""

    tables: frozenset[str]
    event_types: frozenset[str]
    customer_columns: frozenset[str]
    segments: frozenset[str]
    #: Uses a relative threshold (RFM score/group, percentile): needs stored boundaries.
    ranked: bool
    #: Has a condition whose value changes with time alone (a relative window, a derived
    #: date, lifecycle, recency, a birthday): needs timers.
    time_bound: bool

    def affected_by(self, tables: Iterable[str], event_types: Iterable[str] = ()) -> bool:
        """Whether records written to ``tables`` (events of ``event_types``) can change it."""
        written = set(tables)
        if "customers" in written:
            return True  # the universe (signup_at) and every profile column
        for table in written & self.tables:
            if table != "events":
                return True
            types = set(event_types)
            if ANY_EVENT in self.event_types or not types or types & self.event_types:
                return True
        return False


@dataclass
class _Collector:
    catalog: Catalog
    tables: set[str]
    event_types: set[str]
    columns: set[str]
    ranked: bool = False
    time_bound: bool = False

    def activity(self, activity: Activity, fields: Iterable[str | None] = ()) -> None:
        self.source(activity.source, [f.field for f in activity.filters] + list(fields))
        window = activity.window
        if not isinstance(window, Ever):
            self.time_bound = self.time_bound or not _absolute(window)
            if getattr(window, "kind", "") == "since_signup":
                self.columns.add("signup_date")

    def source(self, source: str, fields: Iterable[str | None] = ()) -> None:
        if source == INTERACTIONS:
            self.tables.update({"orders", "events"})
            self.event_types.add(ANY_EVENT)
            return
        info = source_info(self.catalog, source)
        if info is None:
            return
        if info.relation == "order_items":
            self.tables.update({"orders", "order_items"})
        elif info.relation == "events":
            self.tables.add("events")
            if info.event_type is not None:
                self.event_types.add(info.event_type)
        else:
            self.tables.add(info.relation)
        if any(f is not None and f.startswith(PRODUCT_PREFIX) for f in fields):
            self.tables.add("products")

    def metric(self, name: str) -> None:
        if name in PREDICTIVE_TYPES:
            self.tables.add(PREDICTIONS_TABLE)
            return
        self.tables.add("orders")
        self.time_bound = self.time_bound or name in ("lifecycle", "recency_days")
        self.ranked = self.ranked or name in RANKED_METRICS


def _absolute(window: object) -> bool:
    return getattr(window, "kind", "") in ("dates", "since_signup")


def _references(name: str, definitions: Mapping[str, Node], seen: set[str]) -> None:
    for node in walk(definitions[name]):
        if isinstance(node, SegmentRef) and node.segment not in seen:
            seen.add(node.segment)
            if node.segment in definitions:
                _references(node.segment, definitions, seen)


def dependencies_of(name: str, definitions: Mapping[str, Node], catalog: Catalog) -> Dependencies:
    segments: set[str] = set()
    _references(name, definitions, segments)
    collector = _Collector(catalog, {"customers"}, set(), {"customer_id", "signup_at"})
    for each in [name, *sorted(segments)]:
        if each not in definitions:
            continue
        for node in walk(definitions[each]):
            _visit(collector, node)
    return Dependencies(
        tables=frozenset(collector.tables),
        event_types=frozenset(collector.event_types),
        customer_columns=frozenset(collector.columns),
        segments=frozenset(segments),
        ranked=collector.ranked,
        time_bound=collector.time_bound,
    )


def dependencies(definitions: Mapping[str, Node], catalog: Catalog) -> dict[str, Dependencies]:
    """The dependency set of every definition (references followed transitively)."""
    return {name: dependencies_of(name, definitions, catalog) for name in definitions}


def affected_segments(
    deps: Mapping[str, Dependencies], tables: Iterable[str], event_types: Iterable[str] = ()
) -> set[str]:
    """The segments that records written to ``tables`` (of ``event_types``) can change."""
    written, types = list(tables), list(event_types)
    return {name for name, each in deps.items() if each.affected_by(written, types)}


def _visit(collector: _Collector, node: Node) -> None:
    if isinstance(node, Attribute):
        collector.columns.add(node.field)  # compared with fixed values: not time-bound
    elif isinstance(node, Derived):
        collector.columns.add(_DERIVED_COLUMNS[node.field])
        collector.time_bound = True
    elif isinstance(node, Birthday):
        collector.columns.add("birth_date")
        collector.time_bound = True
    elif isinstance(node, HasTag):
        collector.columns.add("tags")
    elif isinstance(node, Aggregate):
        collector.activity(node.activity, [node.field])
        if isinstance(node.activity.window, EachMonth):
            collector.time_bound = True
    elif isinstance(node, Recency):
        collector.activity(node.activity)
        collector.time_bound = True
    elif isinstance(node, Sequence):
        collector.activity(node.first, [left for left, _ in node.match])
        collector.activity(node.then, [right for _, right in node.match])
    elif isinstance(node, Metric):
        collector.metric(node.name)
    elif isinstance(node, Percentile):
        collector.ranked = True
        measure = node.measure
        if isinstance(measure, MetricMeasure):
            collector.metric(measure.metric)
        elif isinstance(measure, AggregateMeasure):
            collector.activity(measure.activity, [measure.field])
    elif isinstance(node, Subscription):
        collector.tables.add("subscriptions")
    elif isinstance(node, MessageReaction):
        collector.tables.add("events")
        collector.event_types.update(_REACTION_EVENTS)
        if node.reaction == "converted":
            collector.tables.add("orders")
        if not isinstance(node.window, Ever):
            collector.time_bound = collector.time_bound or not _absolute(node.window)
    elif isinstance(node, ManualList):
        collector.tables.add("manual_list_members")


#: Columns every read of a relation needs (keys, instants, local dates, status, money).
BASE_COLUMNS: dict[str, frozenset[str]] = {
    "orders": frozenset({"order_id", "customer_id", "ordered_at", "local_date", "status",
                         "amount"}),
    "order_items": frozenset({"order_id", "product_id", "quantity", "unit_price"}),
    "returns": frozenset({"customer_id", "returned_at", "local_date", "product_id"}),
    "events": frozenset({"customer_id", "type", "occurred_at", "local_date", "campaign_id",
                         "channel"}),
}  # fmt: skip


def columns_read(definitions: Mapping[str, Node], catalog: Catalog) -> dict[str, set[str]]:
    """Per activity relation, the columns the definitions can read (a superset): the base
    columns plus every field named by a filter, an aggregate, a measure or a match."""
    out = {relation: set(columns) for relation, columns in BASE_COLUMNS.items()}

    def add(source: str, fields: Iterable[str | None]) -> None:
        targets = (
            ["orders", "events"]
            if source == INTERACTIONS
            else [(info.relation if (info := source_info(catalog, source)) else "")]
        )
        for relation in targets:
            if relation not in out:
                continue
            for field in fields:
                if field is None:
                    continue
                if field.startswith(PRODUCT_PREFIX):
                    out[relation].add("product_id")
                else:
                    out[relation].add(field)

    for node in definitions.values():
        for each in walk(node):
            if isinstance(each, Aggregate | Recency):
                fields = [f.field for f in each.activity.filters]
                add(each.activity.source, [*fields, getattr(each, "field", None)])
            elif isinstance(each, Sequence):
                add(
                    each.first.source,
                    [f.field for f in each.first.filters] + [a for a, _ in each.match],
                )
                add(each.then.source,
                    [f.field for f in each.then.filters] + [b for _, b in each.match])  # fmt: skip
            elif isinstance(each, Percentile) and isinstance(each.measure, AggregateMeasure):
                activity = each.measure.activity
                add(activity.source, [f.field for f in activity.filters] + [each.measure.field])
    return out
