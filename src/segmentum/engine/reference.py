"""The reference evaluator: docs/segment-semantics.md in plain Python, customer by customer.

It is the oracle of the test corpus, so it is written to be obviously correct, never fast: it
walks plain row dicts, derives every local date itself from the UTC instants with ``zoneinfo``
(it never trusts a stored ``local_date``), and shares no code with the compiler or Ibis. It
imports only the catalog, the spec nodes and the standard library.
"""

from __future__ import annotations

import calendar
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import RfmRule, WorkspaceSettings
from segmentum.catalog.tables import CANCELLED_STATUS, SENDABLE_STATUS
from segmentum.catalog.types import ValueType
from segmentum.spec.nodes import (
    Activity,
    Aggregate,
    AggregateMeasure,
    Ago,
    All,
    AnyOf,
    Attribute,
    Birthday,
    Bucket,
    Comparison,
    Dates,
    Derived,
    Duration,
    EachMonth,
    Ever,
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
    SinceSignup,
    Subscription,
    Within,
)
from segmentum.spec.nodes import (
    Sequence as SequenceNode,
)

Row = Mapping[str, Any]
Data = Mapping[str, Sequence[Row]]

__all__ = [
    "RFM_PRESETS",
    "ReferenceError",
    "evaluate_reference",
    "reference_lifecycle",
    "reference_rfm",
]


class ReferenceError(ValueError):
    """A definition the contract gives no meaning to (fail closed, never 'everyone')."""


# --- RFM presets (score -> name tables, first match wins, else "Others") ---------------------


def _rule(name: str, r: tuple[int, int], f: tuple[int, int], m: tuple[int, int] | None) -> RfmRule:
    return RfmRule(name=name, r=r, f=f, m=m)


RFM_PRESETS: dict[str, tuple[RfmRule, ...]] = {
    "ranges": (
        _rule("Champions", (5, 5), (5, 5), (5, 5)),
        _rule("Potential Loyalist", (3, 5), (3, 5), (2, 5)),
        _rule("Loyal Customers", (2, 4), (2, 4), (2, 4)),
        _rule("Promising", (3, 4), (1, 3), (3, 5)),
        _rule("New Customers", (4, 5), (1, 3), (1, 5)),
        _rule("Can't Lose Them", (1, 2), (3, 4), (4, 5)),
        _rule("At Risk", (1, 2), (2, 5), (4, 5)),
        _rule("Need Attention", (1, 3), (3, 5), (3, 5)),
        _rule("About To Sleep", (2, 3), (1, 3), (1, 4)),
        _rule("Lost", (1, 1), (1, 5), (1, 5)),
    ),
    "grid": (
        _rule("Champions", (5, 5), (4, 5), None),
        _rule("Loyal Customers", (3, 4), (4, 5), None),
        _rule("Potential Loyalists", (4, 5), (2, 3), None),
        _rule("New Customers", (5, 5), (1, 1), None),
        _rule("Promising", (4, 4), (1, 1), None),
        _rule("Need Attention", (3, 3), (3, 3), None),
        _rule("About to Sleep", (3, 3), (1, 2), None),
        _rule("At Risk", (1, 2), (3, 4), None),
        _rule("Can't Lose Them", (1, 2), (5, 5), None),
        _rule("Hibernating", (1, 2), (1, 2), None),
    ),
    "four": (
        _rule("loyal", (3, 5), (3, 5), None),
        _rule("potentially lost", (1, 2), (3, 5), None),
        _rule("new", (3, 5), (1, 2), None),
        _rule("inactive", (1, 2), (1, 2), None),
    ),
}
OTHERS = "Others"

LIFECYCLE_STAGES: tuple[str, ...] = ("zero", "active", "returned", "pre_churn", "churn", "gone")

_REACTION_EVENTS: dict[str, str] = {
    "received": "message_sent",
    "delivered": "message_delivered",
    "opened": "message_opened",
    "clicked": "message_clicked",
    "replied": "message_replied",
    "unsubscribed": "message_unsubscribed",
}
_DEFAULT_CONVERSION_DAYS = 7

_METRIC_TYPES: dict[str, ValueType] = {
    "lifecycle": ValueType.TEXT,
    "recency_days": ValueType.INTEGER,
    "frequency": ValueType.INTEGER,
    "monetary": ValueType.MONEY,
    "r_score": ValueType.INTEGER,
    "f_score": ValueType.INTEGER,
    "m_score": ValueType.INTEGER,
    "rfm_group": ValueType.TEXT,
    "p_alive": ValueType.NUMBER,
    "churn_risk": ValueType.NUMBER,
    "expected_purchases": ValueType.NUMBER,
    "clv": ValueType.NUMBER,
}
#: Predictive metrics come from the stored predictions rows (``data["clv_predictions"]``);
#: ``churn_risk`` is ``1 - p_alive``. See docs/predictive.md.
_PREDICTIONS = "clv_predictions"
_PREDICTIVE = frozenset({"p_alive", "churn_risk", "expected_purchases", "clv"})
_NUMERIC = (ValueType.INTEGER, ValueType.NUMBER, ValueType.MONEY)


# --- calendar helpers -------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    """``day`` shifted by calendar months, the day clamped to the target month's end."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _add_months_instant(instant: datetime, months: int) -> datetime:
    shifted = _add_months(instant.date(), months)
    return datetime.combine(shifted, instant.time())


def _month_bounds(day: date, back: int) -> tuple[date, date]:
    """First and last day of the calendar month ``back`` months before ``day``'s month."""
    first = _add_months(day.replace(day=1), -back)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first, last


def _birthday_in(year: int, birth: date) -> date:
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, birth.month, birth.day)


# --- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    """One activity record: its customer, instant (naive UTC), local date and field values."""

    customer_id: str
    instant: datetime
    local_date: date
    fields: Mapping[str, Any]
    product: Mapping[str, Any] | None


@dataclass
class _Context:
    definitions: Mapping[str, Node]
    data: Data
    catalog: Catalog
    settings: WorkspaceSettings
    as_of: datetime  # naive UTC
    zone: ZoneInfo
    today: date  # D
    universe: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: dict[str, Row] = field(default_factory=dict)
    records: dict[str, list[_Record]] = field(default_factory=dict)
    segments: dict[str, set[str]] = field(default_factory=dict)
    visiting: set[str] = field(default_factory=set)
    lifecycle: dict[str, tuple[str, int | None]] | None = None
    rfm: dict[str | None, dict[str, dict[str, Any]]] = field(default_factory=dict)
    percentiles: dict[Percentile, set[str]] = field(default_factory=dict)
    predictions: dict[str, Row] | None = None

    def local_date(self, instant: datetime) -> date:
        return instant.replace(tzinfo=UTC).astimezone(self.zone).date()

    def days_ago(self, record: _Record) -> int:
        return (self.today - record.local_date).days


def _naive_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(UTC).replace(tzinfo=None)


def _context(
    definitions: Mapping[str, Node],
    data: Data,
    catalog: Catalog,
    settings: WorkspaceSettings,
    as_of: datetime,
) -> _Context:
    if as_of.tzinfo is None:
        raise ReferenceError("as_of must be a timezone-aware instant")
    zone = ZoneInfo(settings.timezone)
    ctx = _Context(
        definitions=definitions,
        data=data,
        catalog=catalog,
        settings=settings,
        as_of=_naive_utc(as_of),
        zone=zone,
        today=as_of.astimezone(zone).date(),
    )
    for row in data.get("customers", ()):
        signup_at = row.get("signup_at")
        if signup_at is not None and _naive_utc(signup_at) > ctx.as_of:
            continue  # signed up after as_of: outside the universe
        profile = dict(row)
        profile["signup_date"] = (
            None if signup_at is None else ctx.local_date(_naive_utc(signup_at))
        )
        ctx.universe[str(row["customer_id"])] = profile
    ctx.products = {str(row["product_id"]): row for row in data.get("products", ())}
    return ctx


def _source_records(ctx: _Context, source: str) -> list[_Record]:
    """Every record of ``source`` with instant <= as_of, of universe customers."""
    if source in ctx.records:
        return ctx.records[source]
    out: list[_Record] = []

    def add(customer_id: Any, instant: Any, fields: Row, product_id: Any) -> None:
        moment = _naive_utc(instant)
        if moment > ctx.as_of or str(customer_id) not in ctx.universe:
            return
        product = ctx.products.get(str(product_id)) if product_id is not None else None
        out.append(_Record(str(customer_id), moment, ctx.local_date(moment), fields, product))

    orders = [row for row in ctx.data.get("orders", ()) if row.get("status") != CANCELLED_STATUS]
    if source == "orders":
        for row in orders:
            add(row["customer_id"], row["ordered_at"], row, None)
    elif source == "order_items":
        by_id = {row["order_id"]: row for row in orders}
        for item in ctx.data.get("order_items", ()):
            order = by_id.get(item["order_id"])
            if order is None:
                continue  # a line of a cancelled (or unknown) order
            quantity, price = item.get("quantity"), item.get("unit_price")
            value = None if quantity is None or price is None else Decimal(quantity) * price
            fields = {**item, "value": value}
            add(order["customer_id"], order["ordered_at"], fields, item.get("product_id"))
    elif source == "returns":
        for row in ctx.data.get("returns", ()):
            add(row["customer_id"], row["returned_at"], row, row.get("product_id"))
    elif source in ctx.catalog.event_types:
        for row in ctx.data.get("events", ()):
            if row.get("type") == source:
                add(row["customer_id"], row["occurred_at"], row, row.get("product_id"))
    elif source == "interactions":
        # Every non-cancelled order and every event: customer, instant and date only.
        for row in orders:
            add(row["customer_id"], row["ordered_at"], {}, None)
        for row in ctx.data.get("events", ()):
            add(row["customer_id"], row["occurred_at"], {}, None)
    else:
        raise ReferenceError(f"unknown activity source {source!r}")
    out.sort(key=lambda record: (record.customer_id, record.instant))
    ctx.records[source] = out
    return out


def _field_type(ctx: _Context, source: str, name: str) -> ValueType:
    if name.startswith("product."):
        if source in ("orders",) or (
            source in ctx.catalog.event_types
            and "product_id" not in ctx.catalog.event_types[source].properties
        ):
            raise ReferenceError(f"{source} has no product")
        return ctx.catalog.table("products").column(name.removeprefix("product.")).type
    if source == "orders":
        return ctx.catalog.table("orders").column(name).type
    if source == "order_items":
        if name == "value":
            return ValueType.MONEY
        return ctx.catalog.table("order_items").column(name).type
    if source == "returns":
        return ctx.catalog.table("returns").column(name).type
    if source in ctx.catalog.event_types:
        properties = ctx.catalog.event_types[source].properties
        if name not in properties:
            raise ReferenceError(f"event type {source!r} has no property {name!r}")
        return properties[name]
    raise ReferenceError(f"unknown activity source {source!r}")


def _field_value(record: _Record, name: str) -> Any:
    if name.startswith("product."):
        if record.product is None:
            return None
        return record.product.get(name.removeprefix("product."))
    return record.fields.get(name)


# --- comparisons ----------------------------------------------------------------------------


def _typed(ctx: _Context, value: Any, value_type: ValueType) -> Any:
    """A value (from the data or from a definition) in the one comparable form of its type."""
    if value is None:
        return None
    if value_type in _NUMERIC:
        if isinstance(value, bool):
            raise ReferenceError(f"{value!r} is not a number")
        if isinstance(value, Decimal):
            return value
        if isinstance(value, int | float):
            return Decimal(str(value))
        if isinstance(value, str):
            return Decimal(value)
        raise ReferenceError(f"{value!r} is not a number")
    if value_type is ValueType.BOOL:
        if not isinstance(value, bool):
            raise ReferenceError(f"{value!r} is not a boolean")
        return value
    if value_type in (ValueType.DATE, ValueType.TIMESTAMP):
        if isinstance(value, datetime):
            return ctx.local_date(_naive_utc(value))
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            return date.fromisoformat(value)
        raise ReferenceError(f"{value!r} is not a date")
    if value_type is ValueType.TEXT_LIST:
        if isinstance(value, str):
            return value
        return list(value)
    if not isinstance(value, str):
        raise ReferenceError(f"{value!r} is not text")
    return value


def _compare(ctx: _Context, actual: Any, comparison: Comparison, value_type: ValueType) -> bool:
    op = comparison.op
    if value_type is ValueType.TEXT_LIST:
        elements = None if actual is None else list(actual)
        if op == "is_set":
            return bool(elements)
        if op == "is_not_set":
            return not elements
        if op != "contains":
            raise ReferenceError(f"operator {op!r} is not defined on a list")
        if elements is None or not isinstance(comparison.value, str):
            return False
        return comparison.value in elements
    if op == "is_set":
        return actual is not None
    if op == "is_not_set":
        return actual is None
    if actual is None:
        return False
    left = _typed(ctx, actual, value_type)
    raw = comparison.value
    if op in ("in", "not_in", "between"):
        if not isinstance(raw, tuple):
            raise ReferenceError(f"{op} needs a list of values")
        values = [_typed(ctx, item, value_type) for item in raw]
        if op == "in":
            return left in values
        if op == "not_in":
            return left not in values
        if len(values) != 2:
            raise ReferenceError("between needs two values")
        return bool(values[0] <= left <= values[1])
    if isinstance(raw, tuple) or raw is None:
        raise ReferenceError(f"{op} needs one value")
    right = _typed(ctx, raw, value_type)
    if op in ("contains", "starts_with", "ends_with"):
        if value_type is not ValueType.TEXT:
            raise ReferenceError(f"{op} is defined on text only")
        if op == "contains":
            return bool(right in left)
        if op == "starts_with":
            return bool(left.startswith(right))
        return bool(left.endswith(right))
    if value_type is ValueType.BOOL and op not in ("eq", "ne"):
        raise ReferenceError(f"{op} is not defined on booleans")
    operations: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: bool(a == b),
        "ne": lambda a, b: bool(a != b),
        "gt": lambda a, b: bool(a > b),
        "gte": lambda a, b: bool(a >= b),
        "lt": lambda a, b: bool(a < b),
        "lte": lambda a, b: bool(a <= b),
    }
    return operations[op](left, right)


# --- windows --------------------------------------------------------------------------------


def _days(duration: Duration) -> int:
    return duration.amount * 7 if duration.unit == "w" else duration.amount


def _newer_bound(ctx: _Context, record: _Record, bound: Duration) -> bool:
    """The record is at least ``bound`` ago (Ago's newest bound)."""
    if bound.unit == "h":
        return record.instant <= ctx.as_of - timedelta(hours=bound.amount)
    if bound.unit == "m":
        return record.local_date <= _add_months(ctx.today, -bound.amount)
    return ctx.days_ago(record) >= _days(bound)


def _older_bound(ctx: _Context, record: _Record, bound: Duration) -> bool:
    """The record is at most ``bound`` ago (Within, and Ago's oldest bound)."""
    if bound.unit == "h":
        return record.instant >= ctx.as_of - timedelta(hours=bound.amount)
    if bound.unit == "m":
        return record.local_date >= _add_months(ctx.today, -bound.amount)
    return 0 <= ctx.days_ago(record) <= _days(bound)


def _in_window(ctx: _Context, record: _Record, window: Any) -> bool:
    if isinstance(window, Ever):
        return True
    if isinstance(window, Within):
        return _older_bound(ctx, record, window.duration)
    if isinstance(window, Ago):
        if not _newer_bound(ctx, record, window.newest):
            return False
        return window.oldest is None or _older_bound(ctx, record, window.oldest)
    if isinstance(window, Dates):
        return window.start <= record.local_date <= window.end
    if isinstance(window, SinceSignup):
        signup_date = ctx.universe[record.customer_id]["signup_date"]
        return signup_date is None or record.local_date >= signup_date
    if isinstance(window, EachMonth):
        raise ReferenceError("each_month is resolved month by month, never as one window")
    raise ReferenceError(f"unknown window {window!r}")


def _selected(ctx: _Context, activity: Activity, customer_id: str) -> list[_Record]:
    """The customer's records of ``activity``: in its window, passing every filter."""
    types = {f.field: _field_type(ctx, activity.source, f.field) for f in activity.filters}
    out = []
    for record in _source_records(ctx, activity.source):
        if record.customer_id != customer_id or not _in_window(ctx, record, activity.window):
            continue
        if all(
            _compare(ctx, _field_value(record, f.field), f.comparison, types[f.field])
            for f in activity.filters
        ):
            out.append(record)
    return out


def _month_windows(ctx: _Context, window: EachMonth) -> list[Dates]:
    windows = []
    for back in range(1, window.months + 1):
        first, last = _month_bounds(ctx.today, back)
        windows.append(Dates(start=first, end=last))
    return windows


def _with_window(activity: Activity, window: Dates) -> Activity:
    return activity.model_copy(update={"window": window})


# --- aggregates -----------------------------------------------------------------------------


def _aggregate_value(
    ctx: _Context,
    activity: Activity,
    function: str,
    field_name: str | None,
    customer_id: str,
) -> tuple[Any, ValueType]:
    records = _selected(ctx, activity, customer_id)
    if function == "count":
        return len(records), ValueType.INTEGER
    if field_name is None:
        raise ReferenceError(f"{function} needs a field")
    value_type = _field_type(ctx, activity.source, field_name)
    values = [_field_value(record, field_name) for record in records]
    present = [_typed(ctx, value, value_type) for value in values if value is not None]
    if function == "count_distinct":
        return len(set(present)), ValueType.INTEGER
    if value_type not in _NUMERIC and function in ("sum", "avg"):
        raise ReferenceError(f"{function} needs a numeric field, {field_name} is {value_type}")
    if function == "sum":
        return sum(present, Decimal(0)), value_type
    if not present:
        return None, value_type
    if function == "avg":
        return sum(present, Decimal(0)) / len(present), ValueType.NUMBER
    if function == "min":
        return min(present), value_type
    if function == "max":
        return max(present), value_type
    raise ReferenceError(f"unknown aggregate function {function!r}")


def _aggregate(ctx: _Context, node: Aggregate, customer_id: str) -> bool:
    def holds(activity: Activity) -> bool:
        value, value_type = _aggregate_value(ctx, activity, node.function, node.field, customer_id)
        return _compare(ctx, value, node.comparison, value_type)

    window = node.activity.window
    if isinstance(window, EachMonth):
        return all(
            holds(_with_window(node.activity, month)) for month in _month_windows(ctx, window)
        )
    return holds(node.activity)


# --- sequence, recency, message reactions -----------------------------------------------------


def _within_end(start: datetime, within: Duration | None, as_of: datetime) -> datetime:
    if within is None:
        return as_of
    if within.unit == "h":
        return start + timedelta(hours=within.amount)
    if within.unit == "m":
        return _add_months_instant(start, within.amount)
    return start + timedelta(days=_days(within))


def _equal_fields(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a == b


def _sequence(ctx: _Context, node: SequenceNode, customer_id: str) -> bool:
    if not isinstance(node.then.window, Ever):
        raise ReferenceError("a sequence's then has no window of its own")
    window = node.first.window
    if isinstance(window, EachMonth):
        return all(
            _sequence(
                ctx,
                node.model_copy(update={"first": _with_window(node.first, month)}),
                customer_id,
            )
            for month in _month_windows(ctx, window)
        )
    thens = _selected(ctx, node.then, customer_id)
    for first in _selected(ctx, node.first, customer_id):
        end = _within_end(first.instant, node.within, ctx.as_of)
        found = any(
            first.instant < then.instant <= end
            and all(
                _equal_fields(_field_value(first, a), _field_value(then, b)) for a, b in node.match
            )
            for then in thens
        )
        if found == node.followed:
            return True
    return False


def _recency(ctx: _Context, node: Recency, customer_id: str) -> bool:
    window = node.activity.window
    if isinstance(window, EachMonth):
        return all(
            _recency(
                ctx,
                node.model_copy(update={"activity": _with_window(node.activity, month)}),
                customer_id,
            )
            for month in _month_windows(ctx, window)
        )
    dates = [record.local_date for record in _selected(ctx, node.activity, customer_id)]
    days = None
    if dates:
        pick = min(dates) if node.which == "first" else max(dates)
        days = (ctx.today - pick).days
    return _compare(ctx, days, node.comparison, ValueType.INTEGER)


def _message_reaction(ctx: _Context, node: MessageReaction, customer_id: str) -> bool:
    if isinstance(node.window, EachMonth):
        return all(
            _message_reaction(ctx, node.model_copy(update={"window": month}), customer_id)
            for month in _month_windows(ctx, node.window)
        )
    event_type = (
        "message_delivered" if node.reaction == "converted" else _REACTION_EVENTS[node.reaction]
    )
    filters = []
    if node.campaign is not None:
        filters.append(_filter("campaign_id", node.campaign))
    if node.channel is not None:
        filters.append(_filter("channel", node.channel))
    messages = _selected(
        ctx, Activity(source=event_type, filters=tuple(filters), window=node.window), customer_id
    )
    if node.reaction != "converted":
        return bool(messages)
    days = _DEFAULT_CONVERSION_DAYS if node.conversion_days is None else node.conversion_days
    orders = _selected(ctx, Activity(source="orders"), customer_id)
    return any(
        message.instant <= order.instant <= message.instant + timedelta(days=days)
        for message in messages
        for order in orders
    )


def _filter(name: str, value: str) -> Filter:
    return Filter(field=name, comparison=Comparison(op="eq", value=value))


# --- lifecycle and RFM ----------------------------------------------------------------------


def _order_dates(ctx: _Context) -> dict[str, list[date]]:
    out: dict[str, list[date]] = {customer_id: [] for customer_id in ctx.universe}
    for record in _source_records(ctx, "orders"):
        out[record.customer_id].append(record.local_date)
    return out


def _lifecycle(ctx: _Context) -> dict[str, tuple[str, int | None]]:
    if ctx.lifecycle is not None:
        return ctx.lifecycle
    thresholds = ctx.settings.lifecycle
    out: dict[str, tuple[str, int | None]] = {}
    for customer_id, dates in _order_dates(ctx).items():
        if not dates:
            out[customer_id] = ("zero", None)
            continue
        days = (ctx.today - max(dates)).days
        if days <= thresholds.active_days:
            stage = "active"
            older = [d for d in dates if (ctx.today - d).days > thresholds.active_days]
            recent = [d for d in dates if (ctx.today - d).days <= thresholds.active_days]
            if older and (min(recent) - max(older)).days > thresholds.returned_gap_days:
                stage = "returned"
        elif days <= thresholds.pre_churn_days:
            stage = "pre_churn"
        elif days <= thresholds.churn_days:
            stage = "churn"
        else:
            stage = "gone"
        out[customer_id] = (stage, days)
    ctx.lifecycle = out
    return out


def _scores(values: Mapping[str, Any], bins: int) -> dict[str, int]:
    """Rank by value then customer_id (byte order); position i scores max(1, ceil(k*i/(n-1)))."""
    ordered = sorted(values, key=lambda customer_id: (values[customer_id], customer_id.encode()))
    n = len(ordered)
    if n == 1:
        return {ordered[0]: 1}
    return {
        customer_id: max(1, math.ceil(Fraction(bins * i, n - 1)))
        for i, customer_id in enumerate(ordered)
    }


def _in_range(score: int, bounds: tuple[int, int] | None) -> bool:
    return bounds is None or bounds[0] <= score <= bounds[1]


def _group_rules(settings: WorkspaceSettings, preset: str | None) -> tuple[RfmRule, ...]:
    if preset is None and settings.rfm.groups is not None:
        return settings.rfm.groups
    name = preset or settings.rfm.preset
    if name not in RFM_PRESETS:
        raise ReferenceError(f"unknown RFM preset {name!r}")
    return RFM_PRESETS[name]


def _rfm(ctx: _Context, preset: str | None) -> dict[str, dict[str, Any]]:
    if preset in ctx.rfm:
        return ctx.rfm[preset]
    recency: dict[str, int] = {}
    frequency: dict[str, int] = {}
    monetary: dict[str, Decimal] = {}
    for customer_id in ctx.universe:
        frequency[customer_id] = 0
        monetary[customer_id] = Decimal("0.00")
    for record in _source_records(ctx, "orders"):
        customer_id = record.customer_id
        frequency[customer_id] += 1
        monetary[customer_id] += _typed(ctx, record.fields["amount"], ValueType.MONEY)
        days = (ctx.today - record.local_date).days
        recency[customer_id] = min(days, recency.get(customer_id, days))
    scored = sorted(recency)
    bins = ctx.settings.rfm.bins
    r_scores = _scores({c: -recency[c] for c in scored}, bins) if scored else {}
    f_scores = _scores({c: frequency[c] for c in scored}, bins) if scored else {}
    m_scores = _scores({c: monetary[c] for c in scored}, bins) if scored else {}
    rules = _group_rules(ctx.settings, preset)
    out: dict[str, dict[str, Any]] = {}
    for customer_id in ctx.universe:
        row: dict[str, Any] = {
            "recency_days": recency.get(customer_id),
            "frequency": frequency[customer_id],
            "monetary": monetary[customer_id],
            "r_score": r_scores.get(customer_id),
            "f_score": f_scores.get(customer_id),
            "m_score": m_scores.get(customer_id),
            "rfm_group": None,
        }
        if customer_id in recency:
            r, f, m = r_scores[customer_id], f_scores[customer_id], m_scores[customer_id]
            row["rfm_group"] = next(
                (
                    rule.name
                    for rule in rules
                    if _in_range(r, rule.r) and _in_range(f, rule.f) and _in_range(m, rule.m)
                ),
                OTHERS,
            )
        out[customer_id] = row
    ctx.rfm[preset] = out
    return out


def _predicted(ctx: _Context, name: str, customer_id: str) -> Any:
    """A predictive metric from the stored predictions (None without a row); no table is an
    error, never 'no one' or 'everyone'."""
    if ctx.predictions is None:
        if _PREDICTIONS not in ctx.data:
            raise ReferenceError(f"{name!r} needs stored predictions ({_PREDICTIONS})")
        ctx.predictions = {str(row["customer_id"]): row for row in ctx.data[_PREDICTIONS]}
    row = ctx.predictions.get(customer_id)
    if row is None:
        return None
    if name == "churn_risk":
        p_alive = row.get("p_alive")
        return None if p_alive is None else 1.0 - float(p_alive)
    value = row.get(name)
    return None if value is None else float(value)


def _metric_value(ctx: _Context, name: str, customer_id: str, preset: str | None) -> Any:
    if name == "lifecycle":
        return _lifecycle(ctx)[customer_id][0]
    if name in _PREDICTIVE:
        return _predicted(ctx, name, customer_id)
    if name not in _METRIC_TYPES:
        raise ReferenceError(f"unknown metric {name!r}")
    return _rfm(ctx, preset if name == "rfm_group" else None)[customer_id][name]


# --- percentile -----------------------------------------------------------------------------


def _percentile_members(ctx: _Context, node: Percentile) -> set[str]:
    if node in ctx.percentiles:
        return ctx.percentiles[node]
    measure = node.measure
    values: dict[str, Any] = {}
    for customer_id in ctx.universe:
        if isinstance(measure, MetricMeasure):
            value_type = _METRIC_TYPES.get(measure.metric)
            if value_type is None or value_type not in _NUMERIC:
                raise ReferenceError(f"percentile needs a numeric metric, not {measure.metric!r}")
            value = _metric_value(ctx, measure.metric, customer_id, None)
        elif isinstance(measure, AggregateMeasure):
            if isinstance(measure.activity.window, EachMonth):
                raise ReferenceError("a percentile's aggregate cannot use each_month")
            value, value_type = _aggregate_value(
                ctx, measure.activity, measure.function, measure.field, customer_id
            )
        else:
            raise ReferenceError(f"unknown measure {measure!r}")
        if value is not None:
            values[customer_id] = _typed(ctx, value, value_type)
    ordered = sorted(values, key=lambda customer_id: (values[customer_id], customer_id.encode()))
    n = len(ordered)
    c = math.ceil(Fraction(n) * Fraction(str(node.percent)) / 100)
    if node.direction == "top":
        members = set(ordered[n - c :]) if c else set()
    else:
        members = set(ordered[:c])
    ctx.percentiles[node] = members
    return members


# --- the node walk --------------------------------------------------------------------------


def _age(birth: date, today: date) -> int:
    """Completed years; in non-leap years a 29 February birthday is reached on 28 February."""
    years = today.year - birth.year
    if today < _birthday_in(today.year, birth):
        years -= 1
    return years


def _holds(ctx: _Context, node: Node, customer_id: str) -> bool:
    profile = ctx.universe[customer_id]
    if isinstance(node, All):
        if not node.items:
            raise ReferenceError("all needs at least one condition")
        return all(_holds(ctx, item, customer_id) for item in node.items)
    if isinstance(node, AnyOf):
        if not node.items:
            raise ReferenceError("any needs at least one condition")
        return any(_holds(ctx, item, customer_id) for item in node.items)
    if isinstance(node, Not):
        return not _holds(ctx, node.item, customer_id)
    if isinstance(node, Derived):
        return _derived(ctx, node, profile)
    if isinstance(node, Birthday):
        birth = profile.get("birth_date")
        if birth is None:
            return False
        next_birthday = _birthday_in(ctx.today.year, birth)
        if next_birthday < ctx.today:
            next_birthday = _birthday_in(ctx.today.year + 1, birth)
        return (next_birthday - ctx.today).days <= node.within_days
    if isinstance(node, HasTag):
        return node.tag in (profile.get("tags") or ())
    if isinstance(node, Aggregate):
        return _aggregate(ctx, node, customer_id)
    if isinstance(node, SequenceNode):
        return _sequence(ctx, node, customer_id)
    if isinstance(node, Recency):
        return _recency(ctx, node, customer_id)
    if isinstance(node, Metric):
        value = _metric_value(ctx, node.name, customer_id, node.preset)
        return _compare(ctx, value, node.comparison, _METRIC_TYPES[node.name])
    if isinstance(node, Percentile):
        return customer_id in _percentile_members(ctx, node)
    if isinstance(node, Subscription):
        return _subscribed(ctx, node, customer_id)
    if isinstance(node, MessageReaction):
        return _message_reaction(ctx, node, customer_id)
    if isinstance(node, SegmentRef):
        return customer_id in _segment(ctx, node.segment)
    if isinstance(node, Bucket):
        digest = hashlib.md5(f"{node.seed}:{customer_id}".encode(), usedforsecurity=False)
        bucket = int(digest.hexdigest()[:8], 16) % node.modulo
        return _compare(ctx, bucket, node.comparison, ValueType.INTEGER)
    if isinstance(node, ManualList):
        return any(
            row["list_name"] == node.list_name and row["customer_id"] == customer_id
            for row in ctx.data.get("manual_list_members", ())
        )
    return _attribute(ctx, node, profile)


def _derived(ctx: _Context, node: Derived, profile: Mapping[str, Any]) -> bool:
    value: int | None = None
    if node.field == "age":
        birth = profile.get("birth_date")
        value = None if birth is None else _age(birth, ctx.today)
    elif node.field == "days_since_signup":
        signup_date = profile.get("signup_date")
        value = None if signup_date is None else (ctx.today - signup_date).days
    else:
        raise ReferenceError(f"unknown derived field {node.field!r}")
    return _compare(ctx, value, node.comparison, ValueType.INTEGER)


def _attribute(ctx: _Context, node: Any, profile: Mapping[str, Any]) -> bool:
    if not isinstance(node, Attribute):
        raise ReferenceError(f"unknown node {type(node).__name__}")
    customers = ctx.catalog.table("customers")
    if not customers.has_column(node.field):
        raise ReferenceError(f"customers has no field {node.field!r}")
    value_type = customers.column(node.field).type
    return _compare(ctx, profile.get(node.field), node.comparison, value_type)


def _subscribed(ctx: _Context, node: Subscription, customer_id: str) -> bool:
    """The newest consent record of the channel (a current state: as_of is not applied)."""
    rows = [
        row
        for row in ctx.data.get("subscriptions", ())
        if row["customer_id"] == customer_id and row["channel"] == node.channel
    ]
    if not rows:
        return False
    latest = max(rows, key=lambda row: _naive_utc(row["changed_at"]))
    return bool(latest["status"] == SENDABLE_STATUS)


def _segment(ctx: _Context, name: str) -> set[str]:
    if name in ctx.segments:
        return ctx.segments[name]
    if name not in ctx.definitions:
        raise ReferenceError(f"unknown segment {name!r}")
    if name in ctx.visiting:
        raise ReferenceError(f"segment {name!r} refers to itself")
    ctx.visiting.add(name)
    definition = ctx.definitions[name]
    members = {customer_id for customer_id in ctx.universe if _holds(ctx, definition, customer_id)}
    ctx.visiting.discard(name)
    ctx.segments[name] = members
    return members


# --- public API -----------------------------------------------------------------------------


def evaluate_reference(
    definitions: Mapping[str, Node],
    data: Data,
    catalog: Catalog,
    settings: WorkspaceSettings,
    as_of: datetime,
) -> dict[str, set[str]]:
    """The members of every definition at ``as_of``: name -> customer ids."""
    ctx = _context(definitions, data, catalog, settings, as_of)
    return {name: set(_segment(ctx, name)) for name in definitions}


def reference_lifecycle(
    data: Data, catalog: Catalog, settings: WorkspaceSettings, as_of: datetime
) -> dict[str, tuple[str, int | None]]:
    """customer_id -> (stage, days_since_last_purchase) for every universe customer."""
    ctx = _context({}, data, catalog, settings, as_of)
    return dict(_lifecycle(ctx))


def reference_rfm(
    data: Data,
    catalog: Catalog,
    settings: WorkspaceSettings,
    as_of: datetime,
    preset: str | None = None,
) -> dict[str, dict[str, Any]]:
    """customer_id -> recency_days, frequency, monetary, r/f/m scores and rfm_group."""
    ctx = _context({}, data, catalog, settings, as_of)
    return {customer_id: dict(row) for customer_id, row in _rfm(ctx, preset).items()}
