"""describe(): one English sentence per node, for every node kind and window form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from segmentum.spec import nodes as n
from segmentum.spec.describe import describe, describe_definition
from segmentum.spec.text import parse_text
from tests.spec.strategies import definitions, nodes

CASES: list[tuple[str, str]] = [
    (
        "lifecycle in (pre_churn, churn) and orders(within 365d).sum(amount) >= 10000"
        " and subscribed(sms) and not in_segment(complained_last_month)",
        "customers who are in pre-churn or churn, have spent at least 10,000 on orders in the"
        " last 365 days, can receive SMS, and are not in 'complained last month'",
    ),
    ('country in ("CZ", "PL")', "customers who have country 'CZ' or 'PL'"),
    ('country not in ("CZ")', "customers who have country other than 'CZ'"),
    ("email is not set", "customers who have email not set"),
    ("score between 1 and 5.5", "customers who have score between 1 and 5.5"),
    ('email ends_with ".cz"', "customers who have email ending with '.cz'"),
    ("age >= 30", "customers who are aged at least 30"),
    ("not age >= 30", "customers who are not aged at least 30"),
    ("days_since_signup <= 7", "customers who have been signed up for at most 7 days"),
    ("birthday_within(7)", "customers who have a birthday within the next 7 days"),
    ("birthday_within(0)", "customers who have a birthday today"),
    ("has_tag(vip)", "customers who have the tag 'vip'"),
    ("not has_tag(vip)", "customers who do not have the tag 'vip'"),
    ("orders(within 90d).count() = 0", "customers who have no orders in the last 90 days"),
    ("orders(within 1d).count() >= 2", "customers who have at least 2 orders in the last 1 day"),
    ("orders(within 4w).count() > 0", "customers who have more than 0 orders in the last 4 weeks"),
    ("orders(within 6m).count() > 0", "customers who have more than 0 orders in the last 6 months"),
    (
        "orders(ago 24h..7d).count() > 0",
        "customers who have more than 0 orders between 24 hours and 7 days ago",
    ),
    ("orders(ago 30d).count() = 1", "customers who have 1 order at least 30 days ago"),
    (
        "orders(dates 2024-01-01..2024-03-31).count() > 0",
        "customers who have more than 0 orders from 2024-01-01 to 2024-03-31",
    ),
    ("orders(since_signup).count() > 0", "customers who have more than 0 orders since signing up"),
    (
        "orders(each_month 3).sum(amount) > 100",
        "customers who have spent more than 100 on orders in each of the last 3 complete"
        " calendar months",
    ),
    (
        "orders(each_month 1).count() > 0",
        "customers who have more than 0 orders in the last complete calendar month",
    ),
    ("orders.count() > 0", "customers who have more than 0 orders"),
    (
        'order_items(within 90d, where product.category = "sport shoes").avg(value) > 5',
        "customers who have an average value of order items with product.category 'sport shoes'"
        " in the last 90 days of more than 5",
    ),
    (
        "sequence(cart_updated(ago 24h..7d) not followed by orders within 24h"
        " on product_id = product_id)",
        "customers who have had a 'cart_updated' event between 24 hours and 7 days ago not"
        " followed by an order within 24 hours (matching product_id)",
    ),
    (
        "days_since_last(orders) <= 30",
        "customers who have their last order at most 30 days ago",
    ),
    (
        "days_since_first(orders(within 365d)) > 300",
        "customers who have their first order more than 300 days ago (among orders in the last"
        " 365 days)",
    ),
    ("r_score >= 4", "customers who have R score at least 4"),
    (
        "rfm_group(grid) = Champions",
        "customers who have RFM group (preset 'grid') 'Champions'",
    ),
    ("monetary in top 20%", "customers who are in the top 20% by total spend"),
    (
        "orders(within 90d).sum(amount) in bottom 12.5%",
        "customers who are in the bottom 12.5% by total amount of orders in the last 90 days",
    ),
    ("not subscribed(email)", "customers who cannot receive email"),
    (
        "message(clicked, campaign = spring_sale, channel = sms, within 30d)",
        "customers who have clicked a message of campaign 'spring_sale' on SMS in the last 30 days",
    ),
    (
        "not message(converted, conversion_days = 3)",
        "customers who have not ordered within 3 days of a delivered message",
    ),
    ("bucket(ab1, 100) < 10", "customers who have bucket (seed 'ab1', of 100) less than 10"),
    ("in_list(vip_import)", "customers who are on the list 'vip_import'"),
    (
        "has_tag(a) or has_tag(b) and has_tag(c)",
        "customers who have the tag 'a' or (have the tag 'b' and have the tag 'c')",
    ),
    (
        "not (has_tag(a) or has_tag(b))",
        "customers who are not among those who (have the tag 'a' or have the tag 'b')",
    ),
    ("not not has_tag(a)", "customers who are not among those who do not have the tag 'a'"),
]


@pytest.mark.parametrize(("text", "sentence"), CASES, ids=[c[0][:60] for c in CASES])
def test_describe(text: str, sentence: str) -> None:
    assert describe(parse_text(text)) == sentence


def test_describe_definition() -> None:
    defn = n.SegmentDefinition(name="vip", description="Our best", where=n.HasTag(tag="vip"))
    assert describe_definition(defn) == "vip: customers who have the tag 'vip' (Our best)"


@settings(max_examples=200, deadline=None)
@given(nodes())
def test_describe_never_raises_and_is_deterministic(node: n.Node) -> None:
    sentence = describe(node)
    assert sentence.startswith("customers who ")
    assert describe(node) == sentence


@settings(max_examples=50, deadline=None)
@given(definitions())
def test_describe_definition_never_raises(defn: n.SegmentDefinition) -> None:
    assert describe_definition(defn).startswith(f"{defn.name}: customers who ")
