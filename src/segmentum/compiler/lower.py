"""Lowering: one ``visit_<Node>`` per node kind, bottom-up, to Ibis boolean expressions.

Lowering happens in two steps so that every segment shares one feature relation: a visit
registers the features its node needs (:class:`~segmentum.compiler.features.Features`) and
returns a *predicate*, a function from the built feature relation to a never-NULL boolean
column. Children arrive already lowered (their predicates); combinators only combine them.
"""

# ruff: noqa: N802  (visit_<Node> names follow the node classes)
from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from segmentum.catalog.types import ValueType
from segmentum.compiler.comparisons import compare, literal, typed_value
from segmentum.compiler.features import AggKey, Features, Measure, PercentileKey, SeqKey
from segmentum.compiler.predictive import PREDICTIVE_TYPES
from segmentum.compiler.rfm import group_table
from segmentum.compiler.sources import source_info
from segmentum.compiler.types import DERIVED_TYPES, METRIC_TYPES, aggregate_type
from segmentum.compiler.windows import bounds, each_month_bounds
from segmentum.spec.nodes import (
    Activity,
    Aggregate,
    AggregateMeasure,
    All,
    AnyOf,
    Attribute,
    Birthday,
    Bucket,
    Comparison,
    Derived,
    Duration,
    EachMonth,
    Filter,
    HasTag,
    ManualList,
    MessageReaction,
    Metric,
    MetricMeasure,
    Node,
    Not,
    Percentile,
    Recency,
    SegmentRef,
    Sequence,
    Subscription,
)

Predicate = Callable[[Any], Any]
"""Feature relation -> boolean column (never NULL)."""
ValueOf = Callable[[Any], Any]
"""Feature relation -> the value a leaf compares (for ``segments explain``)."""

REACTION_EVENTS: dict[str, str] = {
    "received": "message_sent",
    "delivered": "message_delivered",
    "opened": "message_opened",
    "clicked": "message_clicked",
    "replied": "message_replied",
    "unsubscribed": "message_unsubscribed",
}
DEFAULT_CONVERSION_DAYS = 7
_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


def _eq(field: str, value: str) -> Filter:
    return Filter(field=field, comparison=Comparison(op="eq", value=value))


def birthday_codes(today: date, within_days: int) -> list[int]:
    """month*100 + day of every birthday whose next occurrence is within the days; 29 February
    counts on 28 February of a non-leap year."""
    codes: set[int] = set()
    for offset in range(within_days + 1):
        day = today + timedelta(days=offset)
        codes.add(day.month * 100 + day.day)
        if day.month == 2 and day.day == 28 and not _leap(day.year):
            codes.add(229)
    return sorted(codes)


def _column(name: str) -> ValueOf:
    return lambda rel: rel[name]


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class Lowerer:
    """Lowers nodes against one :class:`Features` registry (one per compilation)."""

    def __init__(self, features: Features, definitions: dict[str, Node] | None = None) -> None:
        self.features = features
        self.definitions = definitions or {}
        self.catalog = features.catalog
        self.clock = features.clock

    def lower(self, node: Node) -> Predicate:
        visit: Callable[[Any], Predicate] = getattr(self, f"visit_{type(node).__name__}")
        return visit(node)

    def value_of(self, node: Node) -> ValueOf | None:
        """The compared value of a leaf (None for leaves without one)."""
        visit = getattr(self, f"value_{type(node).__name__}", None)
        return None if visit is None else visit(node)

    # -- combinators -----------------------------------------------------------------------

    def visit_All(self, node: All) -> Predicate:
        parts = [self.lower(item) for item in node.items]
        assert parts, "validation rejects an empty all"
        return lambda rel: ibis.and_(*(part(rel) for part in parts))

    def visit_AnyOf(self, node: AnyOf) -> Predicate:
        parts = [self.lower(item) for item in node.items]
        assert parts, "validation rejects an empty any"
        return lambda rel: ibis.or_(*(part(rel) for part in parts))

    def visit_Not(self, node: Not) -> Predicate:
        inner = self.lower(node.item)
        return lambda rel: ~inner(rel)

    def visit_SegmentRef(self, node: SegmentRef) -> Predicate:
        # normally inlined before lowering; explain lowers the referenced definition here
        return self.lower(self.definitions[node.segment])

    # -- profile ---------------------------------------------------------------------------

    def _compare(self, value: ValueOf, value_type: ValueType, cmp: Comparison) -> Predicate:
        clock = self.clock
        return lambda rel: compare(value(rel), value_type, cmp, clock)

    def value_Attribute(self, node: Attribute) -> ValueOf:
        return lambda rel: rel[node.field]

    def visit_Attribute(self, node: Attribute) -> Predicate:
        value_type = self.catalog.table("customers").column(node.field).type
        return self._compare(self.value_Attribute(node), value_type, node.comparison)

    def value_Derived(self, node: Derived) -> ValueOf:
        today = self.clock.today
        if node.field == "days_since_signup":
            return lambda rel: ibis.literal(today, type=dt.date).delta(rel.signup_date, unit="day")

        def age(rel: Any) -> Any:
            born = rel.birth_date
            born_day = born.month() * 100 + born.day()
            if not calendar.isleap(today.year):
                # 29 February birthdays fall on 28 February in non-leap years.
                born_day = ibis.ifelse(born_day == 229, 228, born_day)
            not_yet = born_day > (today.month * 100 + today.day)
            return today.year - born.year() - ibis.ifelse(not_yet, 1, 0)

        return age

    def visit_Derived(self, node: Derived) -> Predicate:
        return self._compare(self.value_Derived(node), DERIVED_TYPES[node.field], node.comparison)

    def visit_Birthday(self, node: Birthday) -> Predicate:
        codes = birthday_codes(self.clock.today, node.within_days)

        def predicate(rel: Any) -> Any:
            born = rel.birth_date
            return (born.month() * 100 + born.day()).isin(codes).fill_null(False)

        return predicate

    def visit_HasTag(self, node: HasTag) -> Predicate:
        tag = node.tag
        return lambda rel: rel.tags.contains(ibis.literal(tag, type=dt.string)).fill_null(False)

    def visit_Subscription(self, node: Subscription) -> Predicate:
        column = self.features.channel(node.channel)
        return lambda rel: rel[column]

    def visit_ManualList(self, node: ManualList) -> Predicate:
        column = self.features.manual_list(node.list_name)
        return lambda rel: rel[column]

    def value_Bucket(self, node: Bucket) -> ValueOf:
        column = self.features.bucket(node.seed)
        modulo = node.modulo
        return lambda rel: (rel[column] % modulo).cast("int64")

    def visit_Bucket(self, node: Bucket) -> Predicate:
        return self._compare(self.value_Bucket(node), ValueType.INTEGER, node.comparison)

    # -- activity ---------------------------------------------------------------------------

    def _key(self, activity: Activity, function: str, field: str | None) -> AggKey:
        return AggKey(
            activity.source, activity.filters, bounds(activity.window, self.clock), function, field
        )

    def _field_type(self, activity: Activity, field: str | None) -> ValueType | None:
        if field is None:
            return None
        info = source_info(self.catalog, activity.source)
        assert info is not None
        return info.fields[field]

    def _aggregate_keys(self, node: Aggregate) -> list[AggKey]:
        window = node.activity.window
        spans = (
            each_month_bounds(window, self.clock)
            if isinstance(window, EachMonth)
            else (bounds(window, self.clock),)
        )
        activity = node.activity
        return [
            AggKey(activity.source, activity.filters, span, node.function, node.field)
            for span in spans
        ]

    def value_Aggregate(self, node: Aggregate) -> ValueOf | None:
        if isinstance(node.activity.window, EachMonth):
            return None
        (key,) = self._aggregate_keys(node)
        self.features.measure(Measure(agg=key))
        return lambda rel: self.features.agg_value(rel, key)

    def visit_Aggregate(self, node: Aggregate) -> Predicate:
        result_type = aggregate_type(node.function, self._field_type(node.activity, node.field))
        parts: list[Predicate] = []
        for key in self._aggregate_keys(node):
            if node.function == "avg":
                parts.append(self._avg_predicate(key, node.comparison))
                continue
            parts.append(
                self._compare(_column(self.features.agg(key)), result_type, node.comparison)
            )
        return lambda rel: ibis.and_(*(part(rel) for part in parts))

    def _avg_predicate(self, key: AggKey, cmp: Comparison) -> Predicate:
        """``avg op v`` as ``count > 0 ∧ sum op v·count``: exact on every engine."""
        features = self.features
        features.measure(Measure(agg=key))  # registers sum and count of values
        op = cmp.op

        values = cmp.value if isinstance(cmp.value, tuple) else (cmp.value,)
        scale = max(
            [2]
            + [
                -exponent
                for raw in values
                if raw is not None
                and isinstance(exponent := Decimal(str(raw)).as_tuple().exponent, int)
            ]
        )
        common = dt.Decimal(precision=38, scale=min(scale, 18))

        def predicate(rel: Any) -> Any:
            total, count = features.agg_avg_parts(rel, key)
            decimal = total.type().is_decimal()
            if decimal:
                total = total.cast(common)

            def scaled(raw: Any, count: Any) -> Any:
                value = typed_value(raw, ValueType.NUMBER)
                assert isinstance(value, Decimal)
                product = literal(value, ValueType.NUMBER) * count
                return product.cast(common) if decimal else product

            present = count > 0
            if op == "is_set":
                return present
            if op == "is_not_set":
                return ~present
            raw = cmp.value
            if op in ("in", "not_in"):
                assert isinstance(raw, tuple)
                hits = ibis.or_(*(total == scaled(item, count) for item in raw))
                result = hits if op == "in" else ~hits
            elif op == "between":
                assert isinstance(raw, tuple)
                result = (total >= scaled(raw[0], count)) & (total <= scaled(raw[1], count))
            else:
                bound = scaled(raw, count)
                result = {
                    "eq": total == bound,
                    "ne": total != bound,
                    "gt": total > bound,
                    "gte": total >= bound,
                    "lt": total < bound,
                    "lte": total <= bound,
                }[op]
            return (present & result).fill_null(False)

        return predicate

    def value_Recency(self, node: Recency) -> ValueOf:
        key = self._key(node.activity, "min" if node.which == "first" else "max", "local_date")
        column = self.features.agg(key)
        today = ibis.literal(self.clock.today, type=dt.date)
        return lambda rel: today.delta(rel[column], unit="day")

    def visit_Recency(self, node: Recency) -> Predicate:
        return self._compare(self.value_Recency(node), ValueType.INTEGER, node.comparison)

    def visit_Sequence(self, node: Sequence) -> Predicate:
        within = None if node.within is None else node.within.amount * _HOURS[node.within.unit]
        key = SeqKey(
            first=(node.first.source, node.first.filters, bounds(node.first.window, self.clock)),
            then=(node.then.source, node.then.filters),
            within_hours=within,
            match=node.match,
            followed=node.followed,
        )
        column = self.features.sequence(key)
        return lambda rel: rel[column]

    def visit_MessageReaction(self, node: MessageReaction) -> Predicate:
        filters: list[Filter] = []
        if node.campaign is not None:
            filters.append(_eq("campaign_id", node.campaign))
        if node.channel is not None:
            filters.append(_eq("channel", node.channel))
        if node.reaction == "converted":
            days = DEFAULT_CONVERSION_DAYS if node.conversion_days is None else node.conversion_days
            first = Activity(source="message_delivered", filters=tuple(filters), window=node.window)
            return self.visit_Sequence(
                Sequence(
                    first=first,
                    then=Activity(source="orders"),
                    followed=True,
                    within=Duration(amount=days, unit="d"),
                )
            )
        activity = Activity(
            source=REACTION_EVENTS[node.reaction], filters=tuple(filters), window=node.window
        )
        return self.visit_Aggregate(
            Aggregate(activity=activity, comparison=Comparison(op="gt", value=0))
        )

    # -- metrics ----------------------------------------------------------------------------

    def value_Metric(self, node: Metric) -> ValueOf:
        if node.name == "rfm_group":
            column = self.features.rfm_group(group_table(self.features.settings, node.preset))
        else:
            column = self.features.metric(node.name)
        return lambda rel: rel[column]

    def visit_Metric(self, node: Metric) -> Predicate:
        value_type = {**METRIC_TYPES, **PREDICTIVE_TYPES}[node.name]
        return self._compare(self.value_Metric(node), value_type, node.comparison)

    def _measure(self, node: Percentile) -> Measure:
        measure = node.measure
        if isinstance(measure, MetricMeasure):
            return Measure(metric=measure.metric)
        assert isinstance(measure, AggregateMeasure)
        return Measure(agg=self._key(measure.activity, measure.function, measure.field))

    def value_Percentile(self, node: Percentile) -> ValueOf:
        column = self.features.measure(self._measure(node))
        return lambda rel: rel[column]

    def visit_Percentile(self, node: Percentile) -> Predicate:
        percent = Fraction(Decimal(repr(node.percent)))
        key = PercentileKey(self._measure(node), node.direction, percent)
        column = self.features.percentile(key)
        return lambda rel: rel[column]
