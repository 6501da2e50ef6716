"""Segment definition nodes: small immutable models whose fields are their children.

These are what users write (through YAML/JSON, see ``external.py``, or the text syntax, see
``text.py``) and, after validation, what the compiler lowers: equality, hashing and the stable
fingerprint all come from the declared fields. Every node kind keeps its class name through
every layer: ``Aggregate`` is lowered by ``visit_Aggregate``, described by
``describe_aggregate`` and tested by corpus cases ``aggregate_*``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field

Scalar: TypeAlias = bool | int | float | str
"""A literal value. Dates are ISO strings, typed against the catalog during validation."""

Operator = Literal[
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "contains",
    "starts_with",
    "ends_with",
    "is_set",
    "is_not_set",
]
OPERATORS: tuple[str, ...] = Operator.__args__  # type: ignore[attr-defined]
LIST_OPERATORS = frozenset({"in", "not_in"})
RANGE_OPERATORS = frozenset({"between"})
UNARY_OPERATORS = frozenset({"is_set", "is_not_set"})
TEXT_OPERATORS = frozenset({"contains", "starts_with", "ends_with"})
ORDER_OPERATORS = frozenset({"gt", "gte", "lt", "lte", "between"})


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Comparison(_Node):
    """``<value> op operand``. ``in``/``not_in`` take a list, ``between`` an inclusive pair,
    ``is_set``/``is_not_set`` nothing."""

    op: Operator
    value: Scalar | tuple[Scalar, ...] | None = None


# --- time ------------------------------------------------------------------------------------

DurationUnit = Literal["h", "d", "w", "m"]


class Duration(_Node):
    """An amount of hours, days, weeks (7 days) or calendar months; written ``24h``, ``30d``."""

    amount: int = Field(ge=0)
    unit: DurationUnit

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


class Within(_Node):
    """Within the last ``duration``: days_ago <= N (N weeks = 7N days, months calendar)."""

    kind: Literal["within"] = "within"
    duration: Duration


class Ago(_Node):
    """Between ``newest`` and ``oldest`` ago, both inclusive (e.g. 24 hours to 7 days ago);
    without ``oldest``: at least ``newest`` ago."""

    kind: Literal["ago"] = "ago"
    newest: Duration
    oldest: Duration | None = None


class Dates(_Node):
    """Local dates ``start`` to ``end``, both inclusive."""

    kind: Literal["dates"] = "dates"
    start: date
    end: date


class SinceSignup(_Node):
    kind: Literal["since_signup"] = "since_signup"


class Ever(_Node):
    kind: Literal["ever"] = "ever"


class EachMonth(_Node):
    """The condition holds in each of the last ``months`` complete calendar months."""

    kind: Literal["each_month"] = "each_month"
    months: int = Field(ge=1, le=24)


Window = Annotated[
    Within | Ago | Dates | SinceSignup | Ever | EachMonth, Field(discriminator="kind")
]

# --- activity sources ------------------------------------------------------------------------

AggregateFunction = Literal["count", "sum", "avg", "min", "max", "count_distinct"]


class Filter(_Node):
    """A condition on a source record's field; ``product.<field>`` reads the product feed."""

    field: str
    comparison: Comparison


class Activity(_Node):
    """Records of one source (orders, order_items, returns or an event type) in a window."""

    source: str
    filters: tuple[Filter, ...] = ()
    window: Window = Ever()


# --- leaf conditions -------------------------------------------------------------------------


class Attribute(_Node):
    """A customer column or declared custom attribute compared with a value."""

    field: str
    comparison: Comparison


DerivedField = Literal["age", "days_since_signup"]


class Derived(_Node):
    """A value derived from the profile as of the evaluation date."""

    field: DerivedField
    comparison: Comparison


class Birthday(_Node):
    """The birthday falls within the next ``within_days`` days (today included)."""

    within_days: int = Field(ge=0, le=366)


class HasTag(_Node):
    tag: str = Field(min_length=1)


class Aggregate(_Node):
    """``fn(field)`` over an activity, compared with a value; count of nothing is 0."""

    activity: Activity
    function: AggregateFunction = "count"
    field: str | None = None
    comparison: Comparison


class Sequence(_Node):
    """A ``first`` record in its window (not) followed by a ``then`` record within ``within``
    (or at any time up to the evaluation instant when ``within`` is None), optionally with
    equal fields (``match``: first field -> then field)."""

    first: Activity
    then: Activity
    followed: bool = False
    within: Duration | None = None
    match: tuple[tuple[str, str], ...] = ()


RecencyWhich = Literal["first", "last"]


class Recency(_Node):
    """Days since the first or last record of an activity (NULL when there is none)."""

    activity: Activity
    which: RecencyWhich = "last"
    comparison: Comparison


METRICS: tuple[str, ...] = (
    "lifecycle",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_group",
    "p_alive",
    "churn_risk",
    "expected_purchases",
    "clv",
)
"""Computed per-customer metrics: lifecycle, RFM and the predictive (BTYD) ones, which read
the stored predictions (docs/predictive.md)."""


class Metric(_Node):
    """A computed metric (lifecycle stage, RFM value, score or group) compared with a value.

    ``preset`` picks the RFM group table for ``rfm_group`` (default: the workspace's)."""

    name: str
    comparison: Comparison
    preset: str | None = None


PercentileDirection = Literal["top", "bottom"]


class MetricMeasure(_Node):
    metric: str


class AggregateMeasure(_Node):
    activity: Activity
    function: AggregateFunction = "count"
    field: str | None = None


class Percentile(_Node):
    """Top or bottom ``percent`` % of customers by a metric or aggregate, ranked by value
    then customer_id (as RFM scoring); customers without a value are not ranked."""

    measure: MetricMeasure | AggregateMeasure
    direction: PercentileDirection
    percent: float = Field(gt=0, le=100)


Channel = Literal["sms", "email", "web_push"]


class Subscription(_Node):
    """Sendable on a channel: the latest consent record says ``opted_in``."""

    channel: Channel


Reaction = Literal[
    "received", "delivered", "opened", "clicked", "replied", "unsubscribed", "converted"
]


class MessageReaction(_Node):
    """Reacted to a message of ``campaign`` (or any campaign on ``channel``) in a window;
    ``converted`` = an order within ``conversion_days`` after a delivered message."""

    reaction: Reaction
    campaign: str | None = None
    channel: Channel | None = None
    window: Window = Ever()
    conversion_days: int | None = Field(default=None, ge=0)


class SegmentRef(_Node):
    segment: str


class Bucket(_Node):
    """first 32 bits of md5(seed ':' customer_id) mod ``modulo``, compared with a value."""

    seed: str
    modulo: int = Field(ge=1)
    comparison: Comparison


class ManualList(_Node):
    list_name: str


# --- combinators -----------------------------------------------------------------------------


class All(_Node):
    items: tuple[Node, ...]


class AnyOf(_Node):
    items: tuple[Node, ...]


class Not(_Node):
    item: Node


Node: TypeAlias = (
    All
    | AnyOf
    | Not
    | Attribute
    | Derived
    | Birthday
    | HasTag
    | Aggregate
    | Sequence
    | Recency
    | Metric
    | Percentile
    | Subscription
    | MessageReaction
    | SegmentRef
    | Bucket
    | ManualList
)
NODE_TYPES: tuple[type[_Node], ...] = get_args(Node)

All.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, All | AnyOf):
        return node.items
    if isinstance(node, Not):
        return (node.item,)
    return ()


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents before children."""
    out = [node]
    for child in children(node):
        out.extend(walk(child))
    return out


class SegmentDefinition(_Node):
    """A named, versioned definition; ``where`` is the condition tree."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    where: Node
    description: str = ""


def fingerprint(value: Any) -> str:
    """A stable hash of a node (or definition): equal trees, equal fingerprints.

    Delegates to ``segmentum.spec.external.fingerprint`` (sha256 of the canonical JSON of the
    external form): the internal dump could not tell node kinds with the same fields apart."""
    from segmentum.spec.external import fingerprint as external_fingerprint

    return external_fingerprint(value)
