from __future__ import annotations

import pytest

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler import InvalidSegmentsError, compile_segments, validate
from segmentum.spec.nodes import (
    Activity,
    Aggregate,
    All,
    AnyOf,
    Attribute,
    Comparison,
    Dates,
    Duration,
    EachMonth,
    Filter,
    ManualList,
    MessageReaction,
    Metric,
    MetricMeasure,
    Not,
    Percentile,
    Recency,
    SegmentRef,
    Sequence,
    Within,
)
from tests.compiler.conftest import AS_OF, MakeTables


def cmp(op: str, value: object = None) -> Comparison:
    return Comparison.model_validate({"op": op, "value": value})


def codes(issues: list) -> list[tuple[str, str, str | None]]:
    return [(issue.code, issue.path, issue.segment) for issue in issues]


def test_all_problems_are_reported_with_codes_and_paths(
    catalog: Catalog, settings: WorkspaceSettings
) -> None:
    bad = All(
        items=(
            Attribute(field="shoe_size", comparison=cmp("eq", 42)),
            Attribute(field="country", comparison=cmp("gt", "CZ")),
            Attribute(field="birth_date", comparison=cmp("eq", "yesterday")),
            Aggregate(
                activity=Activity(source="purchases"),
                comparison=cmp("gte", 1),
            ),
            Aggregate(
                activity=Activity(
                    source="orders",
                    filters=(Filter(field="colour", comparison=cmp("eq", "red")),),
                ),
                function="sum",
                comparison=cmp("gte", 1),
            ),
            Not(item=SegmentRef(segment="nobody")),
            Metric(name="happiness", comparison=cmp("gt", 1)),
            Metric(name="lifecycle", comparison=cmp("in", ("active", "sleepy"))),
            Metric(name="rfm_group", preset="squares", comparison=cmp("eq", "Champions")),
            Sequence(
                first=Activity(source="orders"),
                then=Activity(
                    source="returns", window=Within(duration=Duration(amount=3, unit="d"))
                ),
                match=(("order_id", "amount"), ("store", "nope")),
            ),
            Recency(
                activity=Activity(source="orders", window=EachMonth(months=2)),
                comparison=cmp("lte", 3),
            ),
            ManualList(list_name="vip_2023"),
        )
    )
    issues = validate({"broken": bad}, catalog, settings, manual_lists=["vip_2024"])
    assert codes(issues) == [
        ("SEG101", "/all/0/attribute/field", "broken"),
        ("SEG102", "/all/1/attribute/comparison/op", "broken"),
        ("SEG103", "/all/2/attribute/comparison/value", "broken"),
        ("SEG104", "/all/3/aggregate/activity/source", "broken"),
        ("SEG101", "/all/4/aggregate/activity/filters/0/field", "broken"),
        ("SEG109", "/all/4/aggregate/function", "broken"),
        ("SEG105", "/all/5/not/segment/segment", "broken"),
        ("SEG107", "/all/6/metric/name", "broken"),
        ("SEG108", "/all/7/metric/comparison/value/1", "broken"),
        ("SEG108", "/all/8/metric/preset", "broken"),
        ("SEG111", "/all/9/sequence/then/window", "broken"),
        ("SEG110", "/all/9/sequence/match/0", "broken"),
        ("SEG110", "/all/9/sequence/match/1/1", "broken"),
        ("SEG111", "/all/10/recency/activity/window", "broken"),
        ("SEG112", "/all/11/manual_list/list_name", "broken"),
    ]


def test_issues_in_document_order(catalog: Catalog, settings: WorkspaceSettings) -> None:
    node = AnyOf(
        items=(
            Not(item=SegmentRef(segment="nobody")),
            Attribute(field="shoe_size", comparison=cmp("eq", 1)),
        )
    )
    assert codes(validate({"s": node}, catalog, settings)) == [
        ("SEG105", "/any/0/not/segment/segment", "s"),
        ("SEG101", "/any/1/attribute/field", "s"),
    ]


def test_reference_cycles_are_reported_on_every_edge(
    catalog: Catalog, settings: WorkspaceSettings
) -> None:
    definitions = {
        "a": SegmentRef(segment="b"),
        "b": All(
            items=(SegmentRef(segment="a"), Attribute(field="country", comparison=cmp("eq", "CZ")))
        ),
        "c": SegmentRef(segment="c"),
        "d": SegmentRef(segment="a"),
    }
    assert codes(validate(definitions, catalog, settings)) == [
        ("SEG106", "/segment/segment", "a"),
        ("SEG106", "/all/0/segment/segment", "b"),
        ("SEG106", "/segment/segment", "c"),
    ]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (
            Attribute(field="country", comparison=cmp("in", ())),
            ("SEG103", "/attribute/comparison/value"),
        ),
        (
            Attribute(field="country", comparison=cmp("eq", 3)),
            ("SEG103", "/attribute/comparison/value"),
        ),
        (
            Attribute(field="tags", comparison=cmp("eq", "x")),
            ("SEG102", "/attribute/comparison/op"),
        ),
        (
            Attribute(field="loyalty_member", comparison=cmp("gt", True)),
            ("SEG102", "/attribute/comparison/op"),
        ),
        (
            Attribute(field="country", comparison=cmp("is_set", "x")),
            ("SEG103", "/attribute/comparison/value"),
        ),
        (
            Attribute(field="birth_date", comparison=cmp("between", ("2000-01-01",))),
            ("SEG103", "/attribute/comparison/value"),
        ),
        (
            Attribute(field="birth_date", comparison=cmp("between", ("2000-01-01", "2000-13-01"))),
            ("SEG103", "/attribute/comparison/value/1"),
        ),
        (
            Aggregate(activity=Activity(source="orders"), field="amount", comparison=cmp("gt", 1)),
            ("SEG109", "/aggregate/field"),
        ),
        (
            Aggregate(
                activity=Activity(source="orders"),
                function="avg",
                field="status",
                comparison=cmp("gt", 1),
            ),
            ("SEG109", "/aggregate/field"),
        ),
        (
            Aggregate(activity=Activity(source="orders"), comparison=cmp("gt", "many")),
            ("SEG103", "/aggregate/comparison/value"),
        ),
        (
            Aggregate(
                activity=Activity(
                    source="interactions",
                    filters=(Filter(field="type", comparison=cmp("eq", "x")),),
                ),
                comparison=cmp("gt", 1),
            ),
            ("SEG101", "/aggregate/activity/filters/0/field"),
        ),
        (
            Percentile(measure=MetricMeasure(metric="lifecycle"), direction="top", percent=10),
            ("SEG102", "/percentile/measure/metric"),
        ),
        (
            MessageReaction(reaction="opened", window=EachMonth(months=2)),
            ("SEG111", "/message_reaction/window"),
        ),
        (
            Sequence(
                first=Activity(source="orders"),
                then=Activity(source="orders"),
                within=Duration(amount=1, unit="m"),
            ),
            ("SEG111", "/sequence/within"),
        ),
        (All(items=()), ("SEG113", "/all")),
    ],
)
def test_single_problems(
    catalog: Catalog, settings: WorkspaceSettings, node: object, expected: tuple[str, str]
) -> None:
    issues = validate({"s": node}, catalog, settings)  # type: ignore[dict-item]
    assert [(issue.code, issue.path) for issue in issues] == [expected]


def test_valid_definitions_have_no_issues(catalog: Catalog, settings: WorkspaceSettings) -> None:
    node = All(
        items=(
            Attribute(field="country", comparison=cmp("in", ("CZ", "SK"))),
            Attribute(field="signup_at", comparison=cmp("gte", "2024-01-01")),
            Aggregate(
                activity=Activity(
                    source="order_items",
                    filters=(Filter(field="product.category", comparison=cmp("eq", "shoes")),),
                    window=Dates(start="2024-01-01", end="2024-03-31"),
                ),
                function="sum",
                field="value",
                comparison=cmp("gte", "99.50"),
            ),
            Metric(name="rfm_group", preset="grid", comparison=cmp("eq", "Hibernating")),
            Metric(name="lifecycle", comparison=cmp("in", ("active", "returned"))),
            ManualList(list_name="vip"),
        )
    )
    assert validate({"ok": node}, catalog, settings, ["vip"]) == []


def test_invalid_segment_name(catalog: Catalog, settings: WorkspaceSettings) -> None:
    node = Attribute(field="country", comparison=cmp("eq", "CZ"))
    assert codes(validate({"Bad Name'": node}, catalog, settings)) == [("SEG100", "/", "Bad Name'")]


def test_compile_fails_closed(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    tables = make_tables()
    node = Attribute(field="shoe_size", comparison=cmp("eq", 42))
    with pytest.raises(InvalidSegmentsError) as error:
        compile_segments({"s": node}, catalog, settings, tables, AS_OF)
    assert [issue.code for issue in error.value.issues] == ["SEG101"]


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (
            Attribute(field="countyr", comparison=cmp("eq", "CZ")),
            "customers have no attribute 'countyr' (did you mean 'country'?)",
        ),
        (
            Attribute(field="shoe_size", comparison=cmp("eq", 42)),
            "customers have no attribute 'shoe_size'",
        ),
        (
            Aggregate(activity=Activity(source="order"), comparison=cmp("gte", 1)),
            "unknown source or event type 'order' (did you mean 'orders'?)",
        ),
        (
            Aggregate(
                activity=Activity(
                    source="orders", filters=(Filter(field="amout", comparison=cmp("gt", 1)),)
                ),
                comparison=cmp("gte", 1),
            ),
            "orders has no field 'amout' (did you mean 'amount'?)",
        ),
        (
            Aggregate(
                activity=Activity(source="orders"),
                function="sum",
                field="amonut",
                comparison=cmp("gte", 1),
            ),
            "orders has no field 'amonut' (did you mean 'amount'?)",
        ),
    ],
)
def test_unknown_names_suggest_the_closest_known_one(
    catalog: Catalog, settings: WorkspaceSettings, node: object, message: str
) -> None:
    (issue,) = validate({"s": node}, catalog, settings)  # type: ignore[dict-item]
    assert issue.message == message
