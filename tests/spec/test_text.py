"""The text syntax: a table of (text, node) for every node kind and window form, the printer,
syntax errors, and the round trip on random nodes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings

from segmentum.spec import nodes as n
from segmentum.spec.errors import SpecError
from segmentum.spec.text import parse_text, to_text
from tests.spec.strategies import nodes


def cmp(op: str, value: Any = None) -> n.Comparison:
    return n.Comparison(op=op, value=value)  # type: ignore[arg-type]


def d(text: str) -> n.Duration:
    return n.Duration(amount=int(text[:-1]), unit=text[-1])  # type: ignore[arg-type]


def orders(window: n.Window | None = None, *filters: n.Filter) -> n.Activity:
    return n.Activity(source="orders", window=window or n.Ever(), filters=filters)


def count(activity: n.Activity, comparison: n.Comparison) -> n.Aggregate:
    return n.Aggregate(activity=activity, comparison=comparison)


EXAMPLE = n.All(
    items=(
        n.Metric(name="lifecycle", comparison=cmp("in", ("pre_churn", "churn"))),
        n.Aggregate(
            activity=orders(n.Within(duration=d("365d"))),
            function="sum",
            field="amount",
            comparison=cmp("gte", 10000),
        ),
        n.Subscription(channel="sms"),
        n.Not(item=n.SegmentRef(segment="complained_last_month")),
    )
)
A = n.HasTag(tag="a")
B = n.HasTag(tag="b")
C = n.HasTag(tag="c")

# (text, node, canonical text or None when the text is already canonical)
CASES: list[tuple[str, n.Node, str | None]] = [
    (
        "lifecycle in (pre_churn, churn) and orders(within 365d).sum(amount) >= 10000"
        " and subscribed(sms) and not in_segment(complained_last_month)",
        EXAMPLE,
        None,
    ),
    # attributes and every operator
    (
        'country in ("CZ", "PL")',
        n.Attribute(field="country", comparison=cmp("in", ("CZ", "PL"))),
        None,
    ),
    (
        'country not in ("CZ")',
        n.Attribute(field="country", comparison=cmp("not_in", ("CZ",))),
        None,
    ),
    ('country = "CZ"', n.Attribute(field="country", comparison=cmp("eq", "CZ")), None),
    ("country = CZ", n.Attribute(field="country", comparison=cmp("eq", "CZ")), 'country = "CZ"'),
    ('country != "CZ"', n.Attribute(field="country", comparison=cmp("ne", "CZ")), None),
    ("score > 1.5", n.Attribute(field="score", comparison=cmp("gt", 1.5)), None),
    ("score < -2", n.Attribute(field="score", comparison=cmp("lt", -2)), None),
    ("score <= 1e-05", n.Attribute(field="score", comparison=cmp("lte", 1e-05)), None),
    ("score between 1 and 5", n.Attribute(field="score", comparison=cmp("between", (1, 5))), None),
    ('email contains "@"', n.Attribute(field="email", comparison=cmp("contains", "@")), None),
    ('email starts_with "a"', n.Attribute(field="email", comparison=cmp("starts_with", "a")), None),
    ('email ends_with ".cz"', n.Attribute(field="email", comparison=cmp("ends_with", ".cz")), None),
    ("email is set", n.Attribute(field="email", comparison=cmp("is_set")), None),
    ("email is not set", n.Attribute(field="email", comparison=cmp("is_not_set")), None),
    ("vip = true", n.Attribute(field="vip", comparison=cmp("eq", True)), None),
    ("vip = false", n.Attribute(field="vip", comparison=cmp("eq", False)), None),
    (
        "signup_at >= 2024-01-31",
        n.Attribute(field="signup_at", comparison=cmp("gte", "2024-01-31")),
        'signup_at >= "2024-01-31"',
    ),
    (
        'attribute(age) = "x"',
        n.Attribute(field="age", comparison=cmp("eq", "x")),
        'attribute("age") = "x"',
    ),
    ('attribute("my field") = 1', n.Attribute(field="my field", comparison=cmp("eq", 1)), None),
    # unicode, escapes, injection-looking values are just values
    (
        'city in ("Plzeň", "Москва")',
        n.Attribute(field="city", comparison=cmp("in", ("Plzeň", "Москва"))),
        None,
    ),
    (
        r'note = "a\"b\\c\nd\te\u00e9"',
        n.Attribute(field="note", comparison=cmp("eq", 'a"b\\c\nd\te\u00e9')),
        r'note = "a\"b\\c\nd\teé"',
    ),
    (
        'country = "x\'); drop table customers; --"',
        n.Attribute(field="country", comparison=cmp("eq", "x'); drop table customers; --")),
        None,
    ),
    # derived, birthday, tags
    ("age >= 30", n.Derived(field="age", comparison=cmp("gte", 30)), None),
    (
        "days_since_signup <= 7",
        n.Derived(field="days_since_signup", comparison=cmp("lte", 7)),
        None,
    ),
    ("birthday_within(7)", n.Birthday(within_days=7), None),
    ('has_tag("vip")', n.HasTag(tag="vip"), "has_tag(vip)"),
    ('has_tag("in")', n.HasTag(tag="in"), None),
    # aggregates and every window form
    ("orders.count() = 0", count(orders(), cmp("eq", 0)), None),
    ("orders().count() = 0", count(orders(), cmp("eq", 0)), "orders.count() = 0"),
    (
        "orders(within 90d).count() = 0",
        count(orders(n.Within(duration=d("90d"))), cmp("eq", 0)),
        None,
    ),
    (
        "orders(within 4w).count() > 0",
        count(orders(n.Within(duration=d("4w"))), cmp("gt", 0)),
        None,
    ),
    (
        "orders(within 6m).count() > 0",
        count(orders(n.Within(duration=d("6m"))), cmp("gt", 0)),
        None,
    ),
    (
        "orders(ago 24h..7d).count() > 0",
        count(orders(n.Ago(newest=d("24h"), oldest=d("7d"))), cmp("gt", 0)),
        None,
    ),
    (
        "orders(ago 30d).count() > 0",
        count(orders(n.Ago(newest=d("30d"))), cmp("gt", 0)),
        None,
    ),
    (
        "orders(dates 2024-01-01..2024-03-31).count() > 0",
        count(orders(n.Dates(start=date(2024, 1, 1), end=date(2024, 3, 31))), cmp("gt", 0)),
        None,
    ),
    ("orders(since_signup).count() > 0", count(orders(n.SinceSignup()), cmp("gt", 0)), None),
    ("orders(each_month 3).count() > 0", count(orders(n.EachMonth(months=3)), cmp("gt", 0)), None),
    (
        'order_items(within 90d, where product.category = "sport shoes"'
        " and product.on_promo = true).sum(value) >= 500",
        n.Aggregate(
            activity=n.Activity(
                source="order_items",
                window=n.Within(duration=d("90d")),
                filters=(
                    n.Filter(field="product.category", comparison=cmp("eq", "sport shoes")),
                    n.Filter(field="product.on_promo", comparison=cmp("eq", True)),
                ),
            ),
            function="sum",
            field="value",
            comparison=cmp("gte", 500),
        ),
        None,
    ),
    (
        'orders(where status = "paid", within 7d).count_distinct(product.id) > 1',
        n.Aggregate(
            activity=orders(
                n.Within(duration=d("7d")),
                n.Filter(field="status", comparison=cmp("eq", "paid")),
            ),
            function="count_distinct",
            field="product.id",
            comparison=cmp("gt", 1),
        ),
        'orders(within 7d, where status = "paid").count_distinct(product.id) > 1',
    ),
    # sequences
    (
        "sequence(cart_updated(ago 24h..7d) not followed by orders within 24h)",
        n.Sequence(
            first=n.Activity(source="cart_updated", window=n.Ago(newest=d("24h"), oldest=d("7d"))),
            then=orders(),
            followed=False,
            within=d("24h"),
        ),
        None,
    ),
    (
        "sequence(product_inquiry(within 30d) not followed by order_items"
        " on product_id = product_id)",
        n.Sequence(
            first=n.Activity(source="product_inquiry", window=n.Within(duration=d("30d"))),
            then=n.Activity(source="order_items"),
            match=(("product_id", "product_id"),),
        ),
        None,
    ),
    (
        "sequence(a followed by b on x = y, x = z)",
        n.Sequence(
            first=n.Activity(source="a"),
            then=n.Activity(source="b"),
            followed=True,
            match=(("x", "y"), ("x", "z")),
        ),
        None,
    ),
    # recency, metrics, percentiles
    (
        "days_since_last(orders) <= 30",
        n.Recency(activity=orders(), which="last", comparison=cmp("lte", 30)),
        None,
    ),
    (
        "days_since_first(orders(within 365d)) > 300",
        n.Recency(
            activity=orders(n.Within(duration=d("365d"))), which="first", comparison=cmp("gt", 300)
        ),
        None,
    ),
    ("r_score >= 4", n.Metric(name="r_score", comparison=cmp("gte", 4)), None),
    (
        'rfm_group in ("Champions")',
        n.Metric(name="rfm_group", comparison=cmp("in", ("Champions",))),
        "rfm_group in (Champions)",
    ),
    (
        'rfm_group(grid) = "Champions"',
        n.Metric(name="rfm_group", preset="grid", comparison=cmp("eq", "Champions")),
        "rfm_group(grid) = Champions",
    ),
    (
        "monetary in top 20%",
        n.Percentile(measure=n.MetricMeasure(metric="monetary"), direction="top", percent=20),
        None,
    ),
    (
        "metric(ltv) in top 2.5%",
        n.Percentile(measure=n.MetricMeasure(metric="ltv"), direction="top", percent=2.5),
        None,
    ),
    (
        "orders(within 90d).sum(amount) in bottom 10%",
        n.Percentile(
            measure=n.AggregateMeasure(
                activity=orders(n.Within(duration=d("90d"))), function="sum", field="amount"
            ),
            direction="bottom",
            percent=10,
        ),
        None,
    ),
    # consent, messages, references
    ("subscribed(sms)", n.Subscription(channel="sms"), None),
    (
        'message(clicked, campaign = "spring_sale", channel = sms, within 30d)',
        n.MessageReaction(
            reaction="clicked",
            campaign="spring_sale",
            channel="sms",
            window=n.Within(duration=d("30d")),
        ),
        "message(clicked, campaign = spring_sale, channel = sms, within 30d)",
    ),
    (
        "message(converted, conversion_days = 3, since_signup)",
        n.MessageReaction(reaction="converted", window=n.SinceSignup(), conversion_days=3),
        "message(converted, since_signup, conversion_days = 3)",
    ),
    ("in_segment(other_name)", n.SegmentRef(segment="other_name"), None),
    (
        'bucket("ab1", 100) < 10',
        n.Bucket(seed="ab1", modulo=100, comparison=cmp("lt", 10)),
        "bucket(ab1, 100) < 10",
    ),
    ("in_list(vip_import)", n.ManualList(list_name="vip_import"), None),
    # combinators and precedence
    ("has_tag(a) or has_tag(b) and has_tag(c)", n.AnyOf(items=(A, n.All(items=(B, C)))), None),
    ("(has_tag(a) or has_tag(b)) and has_tag(c)", n.All(items=(n.AnyOf(items=(A, B)), C)), None),
    ("(has_tag(a) or has_tag(b)) or has_tag(c)", n.AnyOf(items=(n.AnyOf(items=(A, B)), C)), None),
    ("has_tag(a) or has_tag(b) or has_tag(c)", n.AnyOf(items=(A, B, C)), None),
    ("not has_tag(a) and has_tag(b)", n.All(items=(n.Not(item=A), B)), None),
    ("not (has_tag(a) and has_tag(b))", n.Not(item=n.All(items=(A, B))), None),
    ("not not has_tag(a)", n.Not(item=n.Not(item=A)), None),
    ("all(has_tag(a))", n.All(items=(A,)), None),
    ("any(has_tag(a))", n.AnyOf(items=(A,)), None),
    ("all(has_tag(a), has_tag(b))", n.All(items=(A, B)), "has_tag(a) and has_tag(b)"),
    (
        "x between 1 and 5 and y = 2",
        n.All(
            items=(
                n.Attribute(field="x", comparison=cmp("between", (1, 5))),
                n.Attribute(field="y", comparison=cmp("eq", 2)),
            )
        ),
        None,
    ),
    ("  has_tag(a)\n  and has_tag(b) ", n.All(items=(A, B)), "has_tag(a) and has_tag(b)"),
]


@pytest.mark.parametrize(("text", "expected", "canonical"), CASES, ids=[c[0][:60] for c in CASES])
def test_parse_text(text: str, expected: n.Node, canonical: str | None) -> None:
    node = parse_text(text)
    assert node == expected
    assert to_text(node) == (canonical or text)
    assert parse_text(to_text(node)) == node


SYNTAX_ERRORS: list[tuple[str, str]] = [
    (
        "age >=",
        "line 1 column 5: unexpected the end; expected 'false', 'true', a date, a name,"
        " a number, a string",
    ),
    ("age >> 3", "line 1 column 6: unexpected '>'; expected a date, a name, a number, a string"),
    ("has_tag(a) and", "line 1 column 12: unexpected the end"),
    ('x = "open', "line 1 column 5: unexpected '\"'"),
    (r'x = "bad \q escape"', "line 1 column 5: unexpected '\"'"),
    ("orders(within 30x).count() > 0", "line 1 column 15: unexpected '30'"),
    ("has_tag(a)\nor or", "line 2 column 4: unexpected the end"),
    ("(has_tag(a)", "line 1 column 11: unexpected the end"),
]


@pytest.mark.parametrize(("text", "message"), SYNTAX_ERRORS)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_text(text)
    assert info.value.codes() == [("SEG009", "")]
    assert info.value.issues[0].message.startswith(message)


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("subscribed(fax)", [("SEG008", "/subscription")]),
        ("all()", [("SEG007", "/all")]),
        ("birthday_within(400)", [("SEG008", "/birthday/within_days")]),
        ("orders(within 7d, within 8d).count() > 0", [("SEG004", "")]),
        ("orders(within 7d, since_signup).count() > 0", [("SEG006", "/aggregate")]),
        ("orders.sum() > 0", [("SEG003", "/aggregate")]),
        ("orders(ago 7d..1d).count() > 0", [("SEG006", "/aggregate/ago")]),
        ("message(liked)", [("SEG008", "/message/reaction")]),
    ],
)
def test_semantic_shape_errors_use_external_codes(text: str, codes: list[tuple[str, str]]) -> None:
    with pytest.raises(SpecError) as info:
        parse_text(text)
    assert info.value.codes() == codes


def test_keywords_as_names_are_quoted() -> None:
    node = n.Aggregate(
        activity=n.Activity(source="and"), function="sum", field="count", comparison=cmp("eq", 1)
    )
    assert to_text(node) == '"and".sum("count") = 1'
    assert parse_text(to_text(node)) == node


@settings(max_examples=200, deadline=None)
@given(nodes())
def test_text_round_trip(node: n.Node) -> None:
    assert parse_text(to_text(node)) == node
