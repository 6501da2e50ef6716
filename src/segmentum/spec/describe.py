"""Every node as an English sentence for the person (the compiler renders it for the machine).

``describe(node)`` is ``"customers who " + <phrase>``; each node kind has one function
``describe_<snake_case_class>`` returning a plural verb phrase ("are in churn", "can receive
SMS", "have spent at least 10,000 on orders in the last 365 days"). Deterministic: the same
node always gives the same text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    Scalar,
    SegmentDefinition,
    SegmentRef,
    Sequence,
    SinceSignup,
    Subscription,
    Window,
    Within,
)

_UNITS = {"h": "hour", "d": "day", "w": "week", "m": "month"}
_CHANNELS = {"sms": "SMS", "email": "email", "web_push": "web push"}
_SOURCES = {"orders": "order", "order_items": "order item", "returns": "return"}
_METRICS = {
    "lifecycle": "lifecycle stage",
    "recency_days": "days since the last order",
    "frequency": "number of orders",
    "monetary": "total spend",
    "r_score": "R score",
    "f_score": "F score",
    "m_score": "M score",
    "rfm_group": "RFM group",
}
_FUNCTIONS = {
    "sum": "total",
    "avg": "average",
    "min": "smallest",
    "max": "largest",
    "count_distinct": "number of distinct",
}
_REACTIONS = {
    "received": "received",
    "delivered": "had delivered",
    "opened": "opened",
    "clicked": "clicked",
    "replied": "replied to",
    "unsubscribed": "unsubscribed from",
}
_NEGATIONS = (
    ("are ", "are not "),
    ("can ", "cannot "),
    ("have been ", "have not been "),
    ("have had ", "have not had "),
    ("have spent ", "have not spent "),
    ("have ordered ", "have not ordered "),
    *((f"have {verb} ", f"have not {verb} ") for verb in _REACTIONS.values()),
    ("have ", "do not have "),
)


def describe(node: Node) -> str:
    """``node`` as an English sentence, e.g. "customers who are in churn and can receive SMS"."""
    return f"customers who {describe_node(node)}"


def describe_definition(definition: SegmentDefinition) -> str:
    """``"<name>: customers who ..."``, followed by the description when there is one."""
    text = f"{definition.name}: {describe(definition.where)}"
    if definition.description:
        text += f" ({definition.description})"
    return text


def describe_node(node: Node) -> str:
    """The verb phrase of one node (without "customers who")."""
    describer = _DESCRIBERS.get(type(node))
    if describer is None:  # pragma: no cover - every node type has a describer
        raise TypeError(f"not a segment node: {node!r}")
    return describer(node)


# --- combinators -----------------------------------------------------------------------------


def _joined(items: tuple[Node, ...], word: str) -> str:
    phrases = [_nested(item) for item in items]
    if len(phrases) <= 1:
        return "".join(phrases)
    if len(phrases) == 2:
        return f"{phrases[0]} {word} {phrases[1]}"
    return ", ".join(phrases[:-1]) + f", {word} {phrases[-1]}"


def _nested(node: Node) -> str:
    text = describe_node(node)
    if isinstance(node, All | AnyOf) and len(node.items) > 1:
        return f"({text})"
    return text


def describe_all(node: All) -> str:
    return _joined(node.items, "and")


def describe_any_of(node: AnyOf) -> str:
    if not node.items:
        return "match nothing"
    return _joined(node.items, "or")


def describe_not(node: Not) -> str:
    item = node.item
    text = describe_node(item)
    if isinstance(item, Not | All | AnyOf):
        return f"are not among those who {_nested(item) if len(_items(item)) > 1 else text}"
    for positive, negative in _NEGATIONS:
        if text.startswith(positive):
            return negative + text[len(positive) :]
    return f"are not among those who {text}"  # pragma: no cover - every phrase has a verb


def _items(node: Node) -> tuple[Node, ...]:
    return node.items if isinstance(node, All | AnyOf) else (node,)


# --- values, comparisons, windows ------------------------------------------------------------


def describe_value(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:,}"
    return f"'{value}'"


def _list(values: Any, word: str, show: Callable[[Scalar], str]) -> str:
    parts = [show(v) for v in (values if isinstance(values, tuple) else (values,))]
    if len(parts) <= 2:
        return f" {word} ".join(parts)
    return ", ".join(parts[:-1]) + f" {word} {parts[-1]}"


def describe_comparison(
    comparison: Comparison, show: Callable[[Scalar], str] = describe_value
) -> str:
    """The comparison as a noun phrase: "at least 10,000", "'CZ' or 'PL'", "set"."""
    op, value = comparison.op, comparison.value
    if op == "is_set":
        return "set"
    if op == "is_not_set":
        return "not set"
    if op == "in":
        return _list(value, "or", show)
    if op == "not_in":
        return "other than " + _list(value, "or", show)
    if op == "between":
        low, high = value if isinstance(value, tuple) and len(value) == 2 else (value, value)
        return f"between {show(low)} and {show(high)}"  # type: ignore[arg-type]
    prefix = {
        "eq": "",
        "ne": "other than ",
        "gt": "more than ",
        "gte": "at least ",
        "lt": "less than ",
        "lte": "at most ",
        "contains": "containing ",
        "starts_with": "starting with ",
        "ends_with": "ending with ",
    }[op]
    return prefix + show(value)  # type: ignore[arg-type]


def _amount(amount: int, unit: str) -> str:
    word = _UNITS[unit]
    return f"{amount:,} {word}" + ("" if amount == 1 else "s")


def describe_duration(duration: Duration) -> str:
    return _amount(duration.amount, duration.unit)


def describe_window(window: Window) -> str:
    """ "in the last 30 days", "between 24 hours and 7 days ago", "" for ever, ..."""
    if isinstance(window, Within):
        return f"in the last {describe_duration(window.duration)}"
    if isinstance(window, Ago):
        newest = describe_duration(window.newest)
        if window.oldest is None:
            return f"at least {newest} ago"
        return f"between {newest} and {describe_duration(window.oldest)} ago"
    if isinstance(window, Dates):
        return f"from {window.start.isoformat()} to {window.end.isoformat()}"
    if isinstance(window, SinceSignup):
        return "since signing up"
    if isinstance(window, EachMonth):
        if window.months == 1:
            return "in the last complete calendar month"
        return f"in each of the last {window.months} complete calendar months"
    return "ever"


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def _source(source: str, plural: bool) -> str:
    if source == "interactions":
        return "orders or interactions" if plural else "order or interaction"
    if source in _SOURCES:
        word = _SOURCES[source]
        return word + ("s" if plural else "")
    return f"'{source}' event" + ("s" if plural else "")


def _filters(filters: tuple[Filter, ...]) -> str:
    if not filters:
        return ""
    parts = [f"{f.field} {describe_comparison(f.comparison)}" for f in filters]
    return " with " + " and ".join(parts)


def describe_activity(activity: Activity, plural: bool = True) -> str:
    """ "orders with status 'paid' in the last 30 days" (no window words for "ever")."""
    text = _source(activity.source, plural) + _filters(activity.filters)
    if isinstance(activity.window, Ever):
        return text
    return text + " " + describe_window(activity.window)


def _counts_one(comparison: Comparison) -> bool:
    """ "at least 1 order", not "at least 1 orders"."""
    return comparison.op in ("eq", "gte", "lte") and comparison.value == 1


def _measure(activity: Activity, function: str, field: str | None) -> str:
    if function == "count":
        counted = f"{field} values of " if field is not None else ""
        return f"number of {counted}{describe_activity(activity)}"
    if function == "count_distinct":
        return f"number of distinct {field} values among {describe_activity(activity)}"
    return f"{_FUNCTIONS[function]} {field} of {describe_activity(activity)}"


# --- leaves ----------------------------------------------------------------------------------


def describe_attribute(node: Attribute) -> str:
    return f"have {node.field} {describe_comparison(node.comparison)}"


def describe_derived(node: Derived) -> str:
    noun = describe_comparison(node.comparison)
    if node.field == "age":
        if node.comparison.op in ("is_set", "is_not_set"):
            return f"have age {noun}"
        return f"are aged {noun}"
    if node.comparison.op in ("is_set", "is_not_set"):
        return f"have a signup date {noun}"
    return f"have been signed up for {noun} days"


def describe_birthday(node: Birthday) -> str:
    if node.within_days == 0:
        return "have a birthday today"
    return f"have a birthday within the next {_amount(node.within_days, 'd')}"


def describe_has_tag(node: HasTag) -> str:
    return f"have the tag '{node.tag}'"


def describe_aggregate(node: Aggregate) -> str:
    activity, comparison = node.activity, node.comparison
    noun = describe_comparison(comparison)
    if node.function == "count" and node.field is None:
        if comparison.op == "eq" and comparison.value == 0:
            return f"have no {describe_activity(activity)}"
        return f"have {noun} {describe_activity(activity, plural=not _counts_one(comparison))}"
    if (
        node.function == "sum"
        and node.field in ("amount", "value")
        and not isinstance(comparison.value, tuple)
        and comparison.op not in ("is_set", "is_not_set")
    ):
        return f"have spent {noun} on {describe_activity(activity)}"
    measure = _measure(activity, node.function, node.field)
    return f"have {_article(measure)} {measure} of {noun}"


def describe_sequence(node: Sequence) -> str:
    first = describe_activity(node.first, plural=False).removesuffix(" ever")
    then = describe_activity(node.then, plural=False).removesuffix(" ever")
    followed = "followed by" if node.followed else "not followed by"
    text = f"have had {_article(first)} {first} {followed} {_article(then)} {then}"
    if node.within is not None:
        text += f" within {describe_duration(node.within)}"
    if node.match:
        pairs = ", ".join(a if a == b else f"{a} = {b}" for a, b in node.match)
        text += f" (matching {pairs})"
    return text


def describe_recency(node: Recency) -> str:
    source = _source(node.activity.source, plural=False)
    text = f"have their {node.which} {source} {describe_comparison(node.comparison)} days ago"
    activity = node.activity
    if activity.filters or not isinstance(activity.window, Ever):
        text += f" (among {describe_activity(activity)})"
    return text


def _lifecycle_value(value: Scalar) -> str:
    if value == "zero":
        return "zero (never bought)"
    return value.replace("_", "-") if isinstance(value, str) else describe_value(value)


def describe_metric(node: Metric) -> str:
    comparison = node.comparison
    if node.name == "lifecycle":
        if comparison.op in ("eq", "in"):
            return f"are in {describe_comparison(comparison, _lifecycle_value)}"
        if comparison.op in ("ne", "not_in"):
            values = Comparison(op="in", value=comparison.value)
            return f"are not in {describe_comparison(values, _lifecycle_value)}"
    label = _METRICS.get(node.name, node.name)
    preset = f" (preset '{node.preset}')" if node.preset is not None else ""
    return f"have {label}{preset} {describe_comparison(comparison)}"


def describe_percentile(node: Percentile) -> str:
    measure = node.measure
    if isinstance(measure, MetricMeasure):
        by = _METRICS.get(measure.metric, measure.metric)
    else:
        by = _aggregate_measure(measure)
    percent = f"{node.percent:g}"
    return f"are in the {node.direction} {percent}% by {by}"


def _aggregate_measure(measure: AggregateMeasure) -> str:
    return _measure(measure.activity, measure.function, measure.field).rstrip()


def describe_subscription(node: Subscription) -> str:
    return f"can receive {_CHANNELS[node.channel]}"


def describe_message_reaction(node: MessageReaction) -> str:
    of = f" of campaign '{node.campaign}'" if node.campaign is not None else ""
    on = f" on {_CHANNELS[node.channel]}" if node.channel is not None else ""
    window = describe_window(node.window)
    window = "" if window == "ever" else f" {window}"
    if node.reaction == "converted":
        days = 7 if node.conversion_days is None else node.conversion_days
        return f"have ordered within {_amount(days, 'd')} of a delivered message{of}{on}{window}"
    return f"have {_REACTIONS[node.reaction]} a message{of}{on}{window}"


def describe_segment_ref(node: SegmentRef) -> str:
    return f"are in '{node.segment.replace('_', ' ')}'"


def describe_bucket(node: Bucket) -> str:
    return (
        f"have bucket (seed '{node.seed}', of {node.modulo:,}) "
        f"{describe_comparison(node.comparison)}"
    )


def describe_manual_list(node: ManualList) -> str:
    return f"are on the list '{node.list_name}'"


_DESCRIBERS: dict[type[Any], Callable[[Any], str]] = {
    All: describe_all,
    AnyOf: describe_any_of,
    Not: describe_not,
    Attribute: describe_attribute,
    Derived: describe_derived,
    Birthday: describe_birthday,
    HasTag: describe_has_tag,
    Aggregate: describe_aggregate,
    Sequence: describe_sequence,
    Recency: describe_recency,
    Metric: describe_metric,
    Percentile: describe_percentile,
    Subscription: describe_subscription,
    MessageReaction: describe_message_reaction,
    SegmentRef: describe_segment_ref,
    Bucket: describe_bucket,
    ManualList: describe_manual_list,
}
