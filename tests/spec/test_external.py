"""The YAML/JSON form: every node kind read exactly, every problem reported with code and path."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from segmentum.spec import nodes as n
from segmentum.spec.errors import SpecError
from segmentum.spec.external import (
    definition_from_external,
    definition_to_external,
    dump_yaml,
    fingerprint,
    from_external,
    load_yaml,
    to_external,
)
from tests.spec.strategies import definitions, nodes


def cmp(op: str, value: Any = None) -> n.Comparison:
    return n.Comparison(op=op, value=value)  # type: ignore[arg-type]


def d(text: str) -> n.Duration:
    return n.Duration(amount=int(text[:-1]), unit=text[-1])  # type: ignore[arg-type]


ORDERS = n.Activity(source="orders")

VALID: list[tuple[str, str, n.Node]] = [
    (
        "all",
        "all: [{has_tag: a}, {has_tag: b}]",
        n.All(items=(n.HasTag(tag="a"), n.HasTag(tag="b"))),
    ),
    ("any", "any: [{has_tag: a}]", n.AnyOf(items=(n.HasTag(tag="a"),))),
    ("not", "not: {segment: s}", n.Not(item=n.SegmentRef(segment="s"))),
    (
        "attribute_in",
        "attribute: {field: country, in: [CZ, PL]}",
        n.Attribute(field="country", comparison=cmp("in", ("CZ", "PL"))),
    ),
    (
        "attribute_between",
        "attribute: {field: score, between: [1, 5.5]}",
        n.Attribute(field="score", comparison=cmp("between", (1, 5.5))),
    ),
    (
        "attribute_is_set",
        "attribute: {field: email, is_set: true}",
        n.Attribute(field="email", comparison=cmp("is_set")),
    ),
    (
        "attribute_date_value",
        "attribute: {field: signup_at, gte: 2024-01-31}",
        n.Attribute(field="signup_at", comparison=cmp("gte", "2024-01-31")),
    ),
    ("derived_age", "age: {gte: 30}", n.Derived(field="age", comparison=cmp("gte", 30))),
    (
        "derived_days_since_signup",
        "days_since_signup: {lte: 7}",
        n.Derived(field="days_since_signup", comparison=cmp("lte", 7)),
    ),
    ("birthday", "birthday: {within_days: 7}", n.Birthday(within_days=7)),
    ("has_tag", "has_tag: vip", n.HasTag(tag="vip")),
    (
        "aggregate_full",
        "aggregate: {of: orders, fn: sum, field: amount, within: 365d,"
        " where: [{field: product.category, eq: shoes}], gte: 10000}",
        n.Aggregate(
            activity=n.Activity(
                source="orders",
                filters=(n.Filter(field="product.category", comparison=cmp("eq", "shoes")),),
                window=n.Within(duration=d("365d")),
            ),
            function="sum",
            field="amount",
            comparison=cmp("gte", 10000),
        ),
    ),
    (
        "aggregate_count_default",
        "aggregate: {of: orders, eq: 0}",
        n.Aggregate(activity=ORDERS, comparison=cmp("eq", 0)),
    ),
    (
        "window_ago",
        "aggregate: {of: orders, ago: [24h, 7d], gt: 0}",
        n.Aggregate(
            activity=n.Activity(source="orders", window=n.Ago(newest=d("24h"), oldest=d("7d"))),
            comparison=cmp("gt", 0),
        ),
    ),
    (
        "window_ago_open",
        "aggregate: {of: orders, ago: 30d, gt: 0}",
        n.Aggregate(
            activity=n.Activity(source="orders", window=n.Ago(newest=d("30d"))),
            comparison=cmp("gt", 0),
        ),
    ),
    (
        "window_dates",
        "aggregate: {of: orders, dates: [2024-01-01, '2024-03-31'], gt: 0}",
        n.Aggregate(
            activity=n.Activity(
                source="orders", window=n.Dates(start=date(2024, 1, 1), end=date(2024, 3, 31))
            ),
            comparison=cmp("gt", 0),
        ),
    ),
    (
        "window_since_signup",
        "aggregate: {of: orders, since_signup: true, gt: 0}",
        n.Aggregate(
            activity=n.Activity(source="orders", window=n.SinceSignup()), comparison=cmp("gt", 0)
        ),
    ),
    (
        "window_each_month",
        "aggregate: {of: orders, each_month: 3, gt: 0}",
        n.Aggregate(
            activity=n.Activity(source="orders", window=n.EachMonth(months=3)),
            comparison=cmp("gt", 0),
        ),
    ),
    (
        "window_within_weeks_months",
        "message: {reaction: opened, within: 4w}",
        n.MessageReaction(reaction="opened", window=n.Within(duration=d("4w"))),
    ),
    (
        "sequence",
        "sequence: {first: {of: cart_updated, ago: [24h, 7d]}, then: {of: orders},"
        " followed: false, within: 24h, match: {product_id: product_id}}",
        n.Sequence(
            first=n.Activity(source="cart_updated", window=n.Ago(newest=d("24h"), oldest=d("7d"))),
            then=ORDERS,
            followed=False,
            within=d("24h"),
            match=(("product_id", "product_id"),),
        ),
    ),
    (
        "sequence_match_pairs",
        "sequence: {first: {of: a}, then: {of: b}, followed: true, match: [[x, y], [x, z]]}",
        n.Sequence(
            first=n.Activity(source="a"),
            then=n.Activity(source="b"),
            followed=True,
            match=(("x", "y"), ("x", "z")),
        ),
    ),
    (
        "recency",
        "recency: {of: orders, which: last, lte: 30}",
        n.Recency(activity=ORDERS, which="last", comparison=cmp("lte", 30)),
    ),
    (
        "metric_lifecycle",
        "lifecycle: {in: [pre_churn, churn]}",
        n.Metric(name="lifecycle", comparison=cmp("in", ("pre_churn", "churn"))),
    ),
    (
        "metric_preset",
        "rfm_group: {preset: grid, in: [Champions]}",
        n.Metric(name="rfm_group", preset="grid", comparison=cmp("in", ("Champions",))),
    ),
    ("metric_score", "r_score: {gte: 4}", n.Metric(name="r_score", comparison=cmp("gte", 4))),
    (
        "percentile_metric",
        "percentile: {metric: monetary, top: 20}",
        n.Percentile(measure=n.MetricMeasure(metric="monetary"), direction="top", percent=20),
    ),
    (
        "percentile_aggregate",
        "percentile: {of: orders, fn: sum, field: amount, within: 90d, bottom: 10}",
        n.Percentile(
            measure=n.AggregateMeasure(
                activity=n.Activity(source="orders", window=n.Within(duration=d("90d"))),
                function="sum",
                field="amount",
            ),
            direction="bottom",
            percent=10,
        ),
    ),
    ("subscription", "subscription: sms", n.Subscription(channel="sms")),
    ("subscription_mapping", "subscription: {channel: email}", n.Subscription(channel="email")),
    (
        "message",
        "message: {reaction: clicked, campaign: spring_sale, channel: sms, within: 30d,"
        " conversion_days: 7}",
        n.MessageReaction(
            reaction="clicked",
            campaign="spring_sale",
            channel="sms",
            window=n.Within(duration=d("30d")),
            conversion_days=7,
        ),
    ),
    ("segment", "segment: other_name", n.SegmentRef(segment="other_name")),
    (
        "bucket",
        "bucket: {seed: ab1, modulo: 100, lt: 10}",
        n.Bucket(seed="ab1", modulo=100, comparison=cmp("lt", 10)),
    ),
    ("manual_list", "manual_list: vip_import", n.ManualList(list_name="vip_import")),
    (
        "unicode_values",
        "attribute: {field: city, in: [Plzeň, Москва]}",
        n.Attribute(field="city", comparison=cmp("in", ("Plzeň", "Москва"))),
    ),
]


@pytest.mark.parametrize(("doc", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_from_external_reads_every_node_kind(doc: str, expected: n.Node) -> None:
    node = from_external(yaml.safe_load(doc))
    assert node == expected
    assert type(node) is type(expected)
    assert from_external(to_external(node)) == node


INVALID: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("unknown_kind", {"atribute": {}}, [("SEG001", "")]),
    ("two_keys", {"has_tag": "a", "segment": "b"}, [("SEG004", "")]),
    ("not_a_mapping", ["has_tag"], [("SEG004", "")]),
    (
        "unknown_key",
        {"attribute": {"feild": "x", "eq": 1}},
        [
            ("SEG002", "/attribute"),
            ("SEG003", "/attribute"),
        ],
    ),
    ("no_operator", {"age": {}}, [("SEG005", "/age")]),
    ("two_operators", {"age": {"gte": 1, "lte": 5}}, [("SEG005", "/age")]),
    ("in_needs_list", {"age": {"in": 5}}, [("SEG004", "/age/in")]),
    ("in_empty", {"age": {"in": []}}, [("SEG004", "/age/in")]),
    ("between_pair", {"age": {"between": [1]}}, [("SEG004", "/age/between")]),
    ("is_set_true", {"age": {"is_set": False}}, [("SEG004", "/age/is_set")]),
    ("null_value", {"age": {"eq": None}}, [("SEG004", "/age/eq")]),
    ("nested_value", {"age": {"in": [1, {"a": 1}]}}, [("SEG004", "/age/in/1")]),
    ("nan", {"age": {"eq": float("nan")}}, [("SEG004", "/age/eq")]),
    ("empty_all", {"all": []}, [("SEG007", "/all")]),
    ("all_not_list", {"any": {"has_tag": "a"}}, [("SEG004", "/any")]),
    (
        "bad_duration",
        {"aggregate": {"of": "orders", "within": "30x", "gt": 0}},
        [
            ("SEG006", "/aggregate/within"),
        ],
    ),
    (
        "duration_number",
        {"aggregate": {"of": "orders", "within": 30, "gt": 0}},
        [
            ("SEG006", "/aggregate/within"),
        ],
    ),
    (
        "two_windows",
        {"aggregate": {"of": "o", "within": "1d", "ago": ["1d", "2d"], "gt": 0}},
        [
            ("SEG006", "/aggregate"),
        ],
    ),
    (
        "ago_reversed",
        {"aggregate": {"of": "o", "ago": ["7d", "1d"], "gt": 0}},
        [
            ("SEG006", "/aggregate/ago"),
        ],
    ),
    (
        "dates_bad",
        {"aggregate": {"of": "o", "dates": ["2024-13-01", "x"], "gt": 0}},
        [
            ("SEG006", "/aggregate/dates/0"),
            ("SEG006", "/aggregate/dates/1"),
        ],
    ),
    (
        "dates_reversed",
        {"aggregate": {"of": "o", "dates": ["2024-02-01", "2024-01-01"], "gt": 0}},
        [
            ("SEG006", "/aggregate/dates"),
        ],
    ),
    (
        "each_month_range",
        {"aggregate": {"of": "o", "each_month": 25, "gt": 0}},
        [
            ("SEG006", "/aggregate/each_month"),
        ],
    ),
    (
        "since_signup_false",
        {"aggregate": {"of": "o", "since_signup": False, "gt": 0}},
        [
            ("SEG006", "/aggregate/since_signup"),
        ],
    ),
    (
        "bad_fn",
        {"aggregate": {"of": "o", "fn": "median", "field": "x", "gt": 0}},
        [
            ("SEG008", "/aggregate/fn"),
        ],
    ),
    (
        "sum_needs_field",
        {"aggregate": {"of": "o", "fn": "sum", "gt": 0}},
        [
            ("SEG003", "/aggregate"),
        ],
    ),
    (
        "bad_filter",
        {"aggregate": {"of": "o", "where": [{"field": "x"}, 3], "gt": 0}},
        [
            ("SEG005", "/aggregate/where/0"),
            ("SEG004", "/aggregate/where/1"),
        ],
    ),
    ("bad_channel", {"subscription": "fax"}, [("SEG008", "/subscription")]),
    (
        "bad_reaction",
        {"message": {"reaction": "liked", "channel": "pigeon"}},
        [
            ("SEG008", "/message/reaction"),
            ("SEG008", "/message/channel"),
        ],
    ),
    ("birthday_range", {"birthday": {"within_days": 400}}, [("SEG008", "/birthday/within_days")]),
    ("birthday_bool", {"birthday": {"within_days": True}}, [("SEG004", "/birthday/within_days")]),
    ("has_tag_empty", {"has_tag": ""}, [("SEG004", "/has_tag")]),
    ("preset_only_rfm_group", {"r_score": {"preset": "grid", "gte": 4}}, [("SEG002", "/r_score")]),
    (
        "percentile_no_direction",
        {"percentile": {"metric": "monetary"}},
        [("SEG005", "/percentile")],
    ),
    (
        "percentile_range",
        {"percentile": {"metric": "monetary", "top": 0}},
        [
            ("SEG008", "/percentile/top"),
        ],
    ),
    ("percentile_no_measure", {"percentile": {"top": 5}}, [("SEG003", "/percentile")]),
    (
        "sequence_missing",
        {"sequence": {"first": {"of": "a"}, "followed": "no"}},
        [
            ("SEG003", "/sequence"),
            ("SEG004", "/sequence/followed"),
        ],
    ),
    (
        "bucket_modulo",
        {"bucket": {"seed": "s", "modulo": 0, "lt": 1}},
        [
            ("SEG008", "/bucket/modulo"),
        ],
    ),
    (
        "several_errors_all_reported",
        {
            "all": [
                {"lifecycle": {"in": ["churn"]}},
                {"attribute": {"feild": "country", "eq": "CZ"}},
                {"aggregate": {"of": "orders", "within": "1y", "fn": "summ", "gte": 1}},
                {"any": []},
                {"not": {"segmnt": "x"}},
            ]
        },
        [
            ("SEG002", "/all/1/attribute"),
            ("SEG003", "/all/1/attribute"),
            ("SEG006", "/all/2/aggregate/within"),
            ("SEG008", "/all/2/aggregate/fn"),
            ("SEG007", "/all/3/any"),
            ("SEG001", "/all/4/not"),
        ],
    ),
]


@pytest.mark.parametrize(("doc", "expected"), [v[1:] for v in INVALID], ids=[v[0] for v in INVALID])
def test_from_external_reports_every_problem(doc: Any, expected: list[tuple[str, str]]) -> None:
    with pytest.raises(SpecError) as info:
        from_external(doc)
    assert info.value.codes() == expected


def test_error_message_is_one_line() -> None:
    with pytest.raises(SpecError) as info:
        from_external({"all": [{"has_tag": "a"}, {"attribute": {"feild": "x", "eq": 1}}]})
    assert str(info.value) == (
        "SEG002 at /all/1/attribute: unknown key 'feild' (did you mean 'field'?) (expected field"
        " or a comparison operator: eq, ne, in, not_in, gt, gte, lt, lte, between, contains,"
        " starts_with, ends_with, is_set, is_not_set); SEG003 at /all/1/attribute: missing key"
        " 'field'"
    )


def test_pointer_escapes_keys() -> None:
    with pytest.raises(SpecError) as info:
        from_external({"all": [{"a/b~c": 1}]})
    assert info.value.codes() == [("SEG001", "/all/0")]
    with pytest.raises(SpecError) as info:
        from_external({"age": {"a/b": 1, "eq": 1}})
    assert "'a/b'" in str(info.value)


def test_to_external_is_canonical() -> None:
    node = n.Aggregate(activity=ORDERS, comparison=cmp("eq", 0))
    assert to_external(node) == {"aggregate": {"of": "orders", "fn": "count", "eq": 0}}
    pct = n.Percentile(measure=n.MetricMeasure(metric="monetary"), direction="top", percent=12.5)
    assert to_external(pct) == {"percentile": {"metric": "monetary", "top": 12.5}}


DEFINITION_YAML = """
name: lapsed_big_spenders
description: Pre-churn or churned customers who spent 10,000+ in the last year and take SMS
where:
  all:
    - lifecycle: {in: [pre_churn, churn]}
    - aggregate: {of: orders, fn: sum, field: amount, within: 365d, gte: 10000}
    - subscription: {channel: sms}
    - not: {segment: complained_last_month}
"""

EXAMPLE = n.All(
    items=(
        n.Metric(name="lifecycle", comparison=cmp("in", ("pre_churn", "churn"))),
        n.Aggregate(
            activity=n.Activity(source="orders", window=n.Within(duration=d("365d"))),
            function="sum",
            field="amount",
            comparison=cmp("gte", 10000),
        ),
        n.Subscription(channel="sms"),
        n.Not(item=n.SegmentRef(segment="complained_last_month")),
    )
)


def test_load_yaml_definition() -> None:
    defn = load_yaml(DEFINITION_YAML)
    assert defn == n.SegmentDefinition(
        name="lapsed_big_spenders",
        description=(
            "Pre-churn or churned customers who spent 10,000+ in the last year and take SMS"
        ),
        where=EXAMPLE,
    )
    assert isinstance(defn, n.SegmentDefinition)
    assert definition_from_external(definition_to_external(defn)) == defn
    assert load_yaml(dump_yaml(defn)) == defn


def test_load_yaml_node_and_json() -> None:
    assert load_yaml("has_tag: vip") == n.HasTag(tag="vip")
    assert load_yaml('{"segment": "x"}') == n.SegmentRef(segment="x")


def test_load_yaml_syntax_error() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml("all: [\n  - x")
    assert info.value.codes() == [("SEG009", "")]


def test_definition_errors() -> None:
    with pytest.raises(SpecError) as info:
        definition_from_external({"name": "Bad Name", "description": 3, "where": {"all": []}})
    assert info.value.codes() == [
        ("SEG008", "/name"),
        ("SEG004", "/description"),
        ("SEG007", "/where/all"),
    ]
    with pytest.raises(SpecError) as info:
        definition_from_external({"nme": "x"})
    assert info.value.codes() == [("SEG002", ""), ("SEG003", ""), ("SEG003", "")]


def test_definition_where_in_text_syntax() -> None:
    defn = definition_from_external({"name": "vip", "where": "has_tag(vip) and subscribed(sms)"})
    assert defn.where == n.All(items=(n.HasTag(tag="vip"), n.Subscription(channel="sms")))
    with pytest.raises(SpecError) as info:
        definition_from_external({"name": "vip", "where": "has_tag(vip) and"})
    assert info.value.codes() == [("SEG009", "/where")]


def test_fingerprint() -> None:
    # Same fields, different kinds: the internal dump could not tell these apart.
    a = n.SegmentRef(segment="x")
    assert fingerprint(a) != fingerprint(n.HasTag(tag="x"))
    assert fingerprint(n.All(items=(a,))) != fingerprint(n.AnyOf(items=(a,)))
    assert fingerprint(a) == fingerprint(from_external({"segment": "x"}))
    assert len(fingerprint(a)) == 64
    assert n.fingerprint(a) == fingerprint(a)
    # defaults written or not, the same node
    assert fingerprint(from_external({"aggregate": {"of": "o", "eq": 0}})) == fingerprint(
        from_external({"aggregate": {"of": "o", "fn": "count", "eq": 0}})
    )


@settings(max_examples=200, deadline=None)
@given(nodes())
def test_round_trip_through_yaml(node: n.Node) -> None:
    text = yaml.safe_dump(to_external(node), allow_unicode=True)
    assert from_external(yaml.safe_load(text)) == node


@settings(max_examples=50, deadline=None)
@given(definitions())
def test_definitions_round_trip(defn: n.SegmentDefinition) -> None:
    assert load_yaml(dump_yaml(defn)) == defn


def test_docs_cover_every_code_and_node_kind() -> None:
    from pathlib import Path

    from segmentum.spec.errors import ISSUE_CODES
    from segmentum.spec.external import NODE_KINDS

    doc = (Path(__file__).parents[2] / "docs" / "segment-language.md").read_text()
    for code in ISSUE_CODES:
        assert f"| `{code}` |" in doc, code
    for node_type in n.NODE_TYPES:
        assert f"| `{node_type.__name__}` |" in doc, node_type.__name__
    for kind in NODE_KINDS:
        assert kind in doc, kind


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"attribute": {"field": "city", "eq": "Pr\x00ague"}}, "/attribute/eq"),
        ({"has_tag": "\x00"}, "/has_tag"),
        ({"attribute": {"field": "country", "in": ["CZ", "P\x00L"]}}, "/attribute/in/1"),
    ],
)
def test_nul_characters_are_refused(document: dict[str, object], path: str) -> None:
    # An engine literal cannot carry NUL: the definition fails closed instead of the query.
    with pytest.raises(SpecError) as caught:
        from_external(document)
    assert [(issue.code, issue.path) for issue in caught.value.issues] == [("SEG008", path)]
