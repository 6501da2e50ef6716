"""Hypothesis strategies for valid segment nodes of every kind (reusable by other tests).

``nodes()`` draws trees of small depth whose every node the external form and the text syntax
accept: non-empty ``all``/``any``, operators with values of the right shape, ``fn`` other than
count with a field, ``ago`` bounds in order, known channels and metrics.
"""

from __future__ import annotations

import string
from typing import get_args

from hypothesis import strategies as st

from segmentum.spec.nodes import (
    LIST_OPERATORS,
    METRICS,
    OPERATORS,
    RANGE_OPERATORS,
    UNARY_OPERATORS,
    Activity,
    Aggregate,
    AggregateFunction,
    AggregateMeasure,
    Ago,
    All,
    AnyOf,
    Attribute,
    Birthday,
    Bucket,
    Channel,
    Comparison,
    Dates,
    Derived,
    DerivedField,
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
    Reaction,
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

__all__ = [
    "activities",
    "comparisons",
    "definitions",
    "durations",
    "leaves",
    "names",
    "nodes",
    "scalars",
    "windows",
]

# Printable text, including quotes, backslashes, Czech and Cyrillic letters and escapes.
_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(categories=["L", "N", "P", "S", "Zs"]),
        st.sampled_from("\"'\\\n\t;-()%.,"),
    ),
    max_size=12,
)
_WORDS = st.sampled_from(
    [
        "country",
        "city",
        "orders",
        "order_items",
        "cart_updated",
        "product.category",
        "amount",
        "vip",
        "count",
        "in",
        "and",
        "not",
        "true",
        "age",
        "lifecycle",
        "within",
        "Praha",
        "Plzeň",
        "Москва",
        "x'); drop table customers; --",
    ]
)


def names() -> st.SearchStrategy[str]:
    """Non-empty names: mostly identifier-like (keywords included), sometimes any text."""
    identifier = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8).filter(
        lambda s: s[0] != "_"
    )
    return st.one_of(_WORDS, identifier, _TEXT.filter(bool))


def scalars() -> st.SearchStrategy[Scalar]:
    return st.one_of(
        st.booleans(),
        st.integers(min_value=-(10**12), max_value=10**12),
        st.floats(allow_nan=False, allow_infinity=False),
        _TEXT,
        _WORDS,
    )


def comparisons() -> st.SearchStrategy[Comparison]:
    def build(op: str) -> st.SearchStrategy[Comparison]:
        if op in UNARY_OPERATORS:
            return st.just(Comparison(op=op))  # type: ignore[arg-type]
        if op in LIST_OPERATORS:
            values = st.lists(scalars(), min_size=1, max_size=3).map(tuple)
        elif op in RANGE_OPERATORS:
            values = st.tuples(scalars(), scalars())
        else:
            values = scalars()
        return values.map(lambda v: Comparison(op=op, value=v))  # type: ignore[arg-type]

    return st.sampled_from(OPERATORS).flatmap(build)


def durations() -> st.SearchStrategy[Duration]:
    return st.builds(
        Duration,
        amount=st.integers(min_value=0, max_value=1000),
        unit=st.sampled_from(["h", "d", "w", "m"]),
    )


def _ago() -> st.SearchStrategy[Ago]:
    def ordered(pair: tuple[Duration, Duration]) -> Ago:
        newest, oldest = pair
        if newest.unit == oldest.unit and newest.amount > oldest.amount:
            newest, oldest = oldest, newest
        return Ago(newest=newest, oldest=oldest)

    return st.one_of(
        st.tuples(durations(), durations()).map(ordered),
        durations().map(lambda newest: Ago(newest=newest)),
    )


def windows() -> st.SearchStrategy[Window]:
    return st.one_of(
        st.just(Ever()),
        durations().map(lambda d: Within(duration=d)),
        _ago(),
        st.tuples(st.dates(), st.dates()).map(
            lambda p: Dates(start=min(p), end=max(p))  # type: ignore[type-var]
        ),
        st.just(SinceSignup()),
        st.integers(min_value=1, max_value=24).map(lambda n: EachMonth(months=n)),
    )


def activities() -> st.SearchStrategy[Activity]:
    filters = st.lists(st.builds(Filter, field=names(), comparison=comparisons()), max_size=2)
    return st.builds(Activity, source=names(), filters=filters.map(tuple), window=windows())


def _function_and_field() -> st.SearchStrategy[tuple[str, str | None]]:
    functions: tuple[str, ...] = get_args(AggregateFunction)
    return st.one_of(
        st.tuples(st.just("count"), st.none() | names()),
        st.tuples(st.sampled_from([f for f in functions if f != "count"]), names()),
    )


def _aggregate() -> st.SearchStrategy[Aggregate]:
    return st.builds(
        lambda a, ff, c: Aggregate(activity=a, function=ff[0], field=ff[1], comparison=c),
        activities(),
        _function_and_field(),
        comparisons(),
    )


def _percentile() -> st.SearchStrategy[Percentile]:
    measure = st.one_of(
        names().map(lambda m: MetricMeasure(metric=m)),
        st.builds(
            lambda a, ff: AggregateMeasure(activity=a, function=ff[0], field=ff[1]),
            activities(),
            _function_and_field(),
        ),
    )
    percent = st.one_of(
        st.integers(min_value=1, max_value=100).map(float),
        st.floats(min_value=0, max_value=100, exclude_min=True),
    )
    return st.builds(
        Percentile, measure=measure, direction=st.sampled_from(["top", "bottom"]), percent=percent
    )


def _metric() -> st.SearchStrategy[Metric]:
    return st.sampled_from(METRICS).flatmap(
        lambda name: st.builds(
            Metric,
            name=st.just(name),
            comparison=comparisons(),
            preset=(st.none() | names()) if name == "rfm_group" else st.none(),
        )
    )


def leaves() -> st.SearchStrategy[Node]:
    """One node of every non-combinator kind."""
    channels = st.sampled_from(get_args(Channel))
    return st.one_of(
        st.builds(Attribute, field=names(), comparison=comparisons()),
        st.builds(Derived, field=st.sampled_from(get_args(DerivedField)), comparison=comparisons()),
        st.builds(Birthday, within_days=st.integers(min_value=0, max_value=366)),
        st.builds(HasTag, tag=names()),
        _aggregate(),
        st.builds(
            Sequence,
            first=activities(),
            then=activities(),
            followed=st.booleans(),
            within=st.none() | durations(),
            match=st.lists(st.tuples(names(), names()), max_size=2).map(tuple),
        ),
        st.builds(
            Recency,
            activity=activities(),
            which=st.sampled_from(["first", "last"]),
            comparison=comparisons(),
        ),
        _metric(),
        _percentile(),
        st.builds(Subscription, channel=channels),
        st.builds(
            MessageReaction,
            reaction=st.sampled_from(get_args(Reaction)),
            campaign=st.none() | names(),
            channel=st.none() | channels,
            window=windows(),
            conversion_days=st.none() | st.integers(min_value=0, max_value=90),
        ),
        st.builds(SegmentRef, segment=names()),
        st.builds(
            Bucket,
            seed=names(),
            modulo=st.integers(min_value=1, max_value=1000),
            comparison=comparisons(),
        ),
        st.builds(ManualList, list_name=names()),
    )


def nodes(max_depth: int = 2) -> st.SearchStrategy[Node]:
    """Valid trees of every node kind, combinators nested at most ``max_depth`` deep."""
    if max_depth <= 0:
        return leaves()
    inner = nodes(max_depth - 1)
    items = st.lists(inner, min_size=1, max_size=3).map(tuple)
    return st.one_of(
        leaves(),
        items.map(lambda i: All(items=i)),
        items.map(lambda i: AnyOf(items=i)),
        inner.map(lambda i: Not(item=i)),
    )


def definitions() -> st.SearchStrategy[SegmentDefinition]:
    return st.builds(
        SegmentDefinition,
        name=st.from_regex(r"\A[a-z][a-z0-9_]{0,20}\Z"),
        where=nodes(),
        description=_TEXT,
    )
