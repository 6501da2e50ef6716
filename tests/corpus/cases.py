"""The segment corpus: definitions on the hand-built shop with members worked out by hand.

Every case names its node kind first (``attribute_*``, ``aggregate_*``, ``sequence_*``...), so
``grep`` finds every case of a concept. Expected ids are derived from the table in ``shop.py``
and docs/segment-semantics.md, never by running an evaluator; the reasoning for the tricky
ones is in the comments. D = 2024-05-15 unless the case names another ``as_of``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

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
    SegmentRef,
    Sequence,
    SinceSignup,
    Subscription,
    Window,
    Within,
)
from tests.corpus.shop import (
    AS_OF,
    AS_OF_DST,
    AS_OF_LEAP,
    AS_OF_YEAR_END,
    BUYERS,
    NO_ORDERS,
    UNIVERSE,
)


@dataclass(frozen=True)
class SegmentCase:
    name: str
    definition: Node
    expected_ids: frozenset[str]
    as_of: datetime = AS_OF


def ids(*names: str) -> frozenset[str]:
    return frozenset(names)


def cmp(op: str, value: Scalar | tuple[Scalar, ...] | None = None) -> Comparison:
    return Comparison.model_validate({"op": op, "value": value})


def dur(text: str) -> Duration:
    return Duration.model_validate({"amount": int(text[:-1]), "unit": text[-1]})


def within(text: str) -> Within:
    return Within(duration=dur(text))


def ago(newest: str, oldest: str) -> Ago:
    return Ago(newest=dur(newest), oldest=dur(oldest))


def where(field: str, op: str, value: Scalar | tuple[Scalar, ...] | None = None) -> Filter:
    return Filter(field=field, comparison=cmp(op, value))


def activity(source: str, window: Window | None = None, *filters: Filter) -> Activity:
    if window is None:
        return Activity(source=source, filters=filters)
    return Activity(source=source, filters=filters, window=window)


def attr(field: str, op: str, value: Scalar | tuple[Scalar, ...] | None = None) -> Attribute:
    return Attribute(field=field, comparison=cmp(op, value))


def count(act: Activity, op: str = "gte", value: Scalar = 1) -> Aggregate:
    return Aggregate(activity=act, function="count", comparison=cmp(op, value))


def agg(act: Activity, function: str, field: str, op: str, value: Scalar) -> Aggregate:
    return Aggregate.model_validate(
        {"activity": act, "function": function, "field": field, "comparison": cmp(op, value)}
    )


def metric(name: str, op: str, value: Scalar | None = None, preset: str | None = None) -> Metric:
    return Metric(name=name, comparison=cmp(op, value), preset=preset)


def bucket_ids(seed: str, modulo: int, wanted: int) -> frozenset[str]:
    """Bucket is *defined* by md5, so computing the expectation with hashlib is the spec."""
    return frozenset(
        customer_id
        for customer_id in UNIVERSE
        if int(hashlib.md5(f"{seed}:{customer_id}".encode()).hexdigest()[:8], 16) % modulo == wanted
    )


ORDERS = "orders"
CZ = ids(
    "c01",
    "c03",
    "c05",
    "c06",
    "c08",
    "c09",
    "c11",
    "c14",
    "c16",
    "c17",
    "c18",
    "c19",
    "c20",
    "c23",
    "c24",
    "c25",
    "c26",
    "c27",
    "c28",
    "c29",
    "c30",
    "c31",
    "c32",
    "c37",
    "c38",
)
NO_COUNTRY = ids("c13", "c34", "c35")
OTHER_COUNTRY = ids("c02", "c04", "c07", "c10", "c12", "c21", "c22", "c33", "c36")
WITH_BIRTH_DATE = ids("c01", "c02", "c03", "c05", "c06", "c08", "c10", "c18", "c33", "c34", "c35")
WITH_TAGS = ids("c01", "c10", "c29", "c30")  # c02 has an empty list
#: Last (local) order date within 30 days, i.e. on or after 2024-04-15.
ORDERED_30D = ids(
    "c01",
    "c02",
    "c10",
    "c11",
    "c12",
    "c19",
    "c20",
    "c21",
    "c22",
    "c25",
    "c26",
    "c29",
    "c31",
    "c32",
    "c35",
    "c36",
    "c37",
    "c38",
)
ACTIVE = ids(
    "c01",
    "c02",
    "c03",
    "c04",
    "c11",
    "c16",
    "c17",
    "c19",
    "c20",
    "c21",
    "c22",
    "c25",
    "c26",
    "c29",
    "c30",
    "c31",
    "c32",
    "c35",
    "c36",
    "c37",
    "c38",
)
#: Customers with an order in February, March or April 2024 (by local date).
ORDERED_FEB_TO_APR = ids(
    "c01", "c02", "c03", "c04", "c05", "c11", "c12", "c16", "c17", "c30", "c37", "c38"
)

CASES: list[SegmentCase] = [
    # --- attribute ---------------------------------------------------------------------------
    SegmentCase("attribute_country_eq", attr("country", "eq", "CZ"), CZ),
    # NULL country is not "not CZ": ne excludes c13, c34, c35 ...
    SegmentCase("attribute_country_ne_excludes_null", attr("country", "ne", "CZ"), OTHER_COUNTRY),
    # ... but not (eq) is two-valued and includes them.
    SegmentCase(
        "not_attribute_country_eq",
        Not(item=attr("country", "eq", "CZ")),
        OTHER_COUNTRY | NO_COUNTRY,
    ),
    SegmentCase(
        "attribute_country_in",
        attr("country", "in", ("SK", "AT")),
        ids("c04", "c12", "c21", "c22", "c36"),
    ),
    SegmentCase(
        "attribute_country_not_in_excludes_null",
        attr("country", "not_in", ("CZ", "SK")),
        ids("c02", "c07", "c10", "c33", "c36"),
    ),
    SegmentCase("attribute_country_is_not_set", attr("country", "is_not_set"), NO_COUNTRY),
    SegmentCase("attribute_country_is_set", attr("country", "is_set"), UNIVERSE - NO_COUNTRY),
    SegmentCase(
        "attribute_birth_date_gt", attr("birth_date", "gt", "2000-01-01"), ids("c18", "c34", "c35")
    ),
    SegmentCase(
        "attribute_birth_date_lte_border",
        attr("birth_date", "lte", "1975-01-01"),
        ids("c03", "c06", "c08"),
    ),
    SegmentCase(
        "attribute_birth_date_lt", attr("birth_date", "lt", "1975-01-01"), ids("c06", "c08")
    ),
    SegmentCase(
        "attribute_birth_date_between_inclusive",
        attr("birth_date", "between", ("1985-01-01", "1992-05-15")),
        ids("c01", "c02", "c05", "c10"),  # c10 born exactly on the upper bound
    ),
    # signup_at compares its *local* date: c16 signed up 2024-03-30 23:30 UTC = 03-31 local,
    # c17 at 22:30 UTC = 03-30 local.
    SegmentCase(
        "attribute_signup_at_local_date_eq", attr("signup_at", "eq", "2024-03-31"), ids("c16")
    ),
    SegmentCase(
        "attribute_signup_at_gte", attr("signup_at", "gte", "2024-03-31"), ids("c03", "c16", "c35")
    ),
    SegmentCase(
        "attribute_last_name_ends_with",
        attr("last_name", "ends_with", "ová"),
        ids("c01", "c06", "c12", "c18", "c29"),  # c15 Fialová signs up after AS_OF
    ),
    SegmentCase(
        "attribute_last_name_starts_with",
        attr("last_name", "starts_with", "Dvoř"),
        ids("c05", "c29"),
    ),
    SegmentCase(
        "attribute_last_name_contains", attr("last_name", "contains", "Dvořák"), ids("c05", "c29")
    ),
    SegmentCase(
        "attribute_last_name_contains_case_sensitive",
        attr("last_name", "contains", "dvořák"),
        ids(),
    ),
    SegmentCase("attribute_first_name_eq_cyrillic", attr("first_name", "eq", "Иван"), ids("c02")),
    SegmentCase(
        "attribute_first_name_starts_with_yo", attr("first_name", "starts_with", "Ё"), ids("c33")
    ),
    SegmentCase(
        "attribute_loyalty_member_eq_true", attr("loyalty_member", "eq", True), ids("c01", "c06")
    ),
    SegmentCase(
        "attribute_loyalty_member_eq_false", attr("loyalty_member", "eq", False), ids("c02")
    ),
    SegmentCase("attribute_custom_bool_eq", attr("has_children", "eq", True), ids("c01", "c10")),
    # ne true: only the explicit false ones; NULL has_children (everyone else) is excluded
    SegmentCase(
        "attribute_custom_bool_ne_excludes_null",
        attr("has_children", "ne", True),
        ids("c02", "c03"),
    ),
    SegmentCase(
        "attribute_custom_text_in",
        attr("clothing_size", "in", ("M", "L")),
        ids("c01", "c02", "c31"),
    ),
    SegmentCase(
        "attribute_custom_text_not_in",
        attr("clothing_size", "not_in", ("M", "L")),
        ids("c10", "c29"),
    ),
    SegmentCase(
        "attribute_custom_text_starts_with", attr("clothing_size", "starts_with", "X"), ids("c29")
    ),
    SegmentCase(
        "attribute_tags_contains_element", attr("tags", "contains", "newsletter"), ids("c01", "c10")
    ),
    # is_set on a list means non-empty: c02's [] is not set
    SegmentCase("attribute_tags_is_set", attr("tags", "is_set"), WITH_TAGS),
    SegmentCase("attribute_tags_is_not_set", attr("tags", "is_not_set"), UNIVERSE - WITH_TAGS),
    SegmentCase(
        "attribute_country_eq_dst_universe", attr("country", "eq", "CZ"), CZ - {"c03"}, AS_OF_DST
    ),  # c03 signs up 2024-04-20: not yet a customer at the DST as_of
    # --- derived -----------------------------------------------------------------------------
    SegmentCase(
        "derived_age_gte",
        Derived(field="age", comparison=cmp("gte", 18)),
        ids("c01", "c02", "c03", "c05", "c06", "c08", "c10", "c18", "c33", "c34"),
    ),
    SegmentCase("derived_age_lt", Derived(field="age", comparison=cmp("lt", 18)), ids("c35")),
    # c34 turns 18 on D (counts), c35 tomorrow (17)
    SegmentCase(
        "derived_age_eq_birthday_today", Derived(field="age", comparison=cmp("eq", 18)), ids("c34")
    ),
    SegmentCase(
        "derived_age_between",
        Derived(field="age", comparison=cmp("between", (18, 33))),
        ids("c01", "c10", "c18", "c33", "c34"),
    ),
    SegmentCase(
        "derived_age_is_not_set",
        Derived(field="age", comparison=cmp("is_not_set")),
        UNIVERSE - WITH_BIRTH_DATE,
    ),
    # 2025-02-28: c18 (born 2000-02-29) celebrates today and is 25; c33 (1999-03-01) is 25
    SegmentCase(
        "derived_age_leap_day",
        Derived(field="age", comparison=cmp("eq", 25)),
        ids("c18", "c33"),
        AS_OF_LEAP,
    ),
    SegmentCase(
        "derived_days_since_signup_lte",
        Derived(field="days_since_signup", comparison=cmp("lte", 30)),
        ids("c03", "c35"),
    ),
    # c35 signed up at 23:00 local on D
    SegmentCase(
        "derived_days_since_signup_eq_0",
        Derived(field="days_since_signup", comparison=cmp("eq", 0)),
        ids("c35"),
    ),
    # local signup dates: c16 2024-03-31 (45 days), c17 2024-03-30 (46 days)
    SegmentCase(
        "derived_days_since_signup_local_date",
        Derived(field="days_since_signup", comparison=cmp("eq", 45)),
        ids("c16"),
    ),
    SegmentCase(
        "derived_days_since_signup_is_not_set",
        Derived(field="days_since_signup", comparison=cmp("is_not_set")),
        ids("c04", "c13", "c34"),
    ),
    # --- birthday ----------------------------------------------------------------------------
    SegmentCase("birthday_today", Birthday(within_days=0), ids("c10", "c34")),
    SegmentCase("birthday_within_5", Birthday(within_days=5), ids("c01", "c10", "c34", "c35")),
    SegmentCase("birthday_within_4", Birthday(within_days=4), ids("c10", "c34", "c35")),
    SegmentCase(
        "birthday_leap_day_in_common_year", Birthday(within_days=0), ids("c18"), AS_OF_LEAP
    ),
    SegmentCase(
        "birthday_leap_day_and_next", Birthday(within_days=1), ids("c18", "c33"), AS_OF_LEAP
    ),
    # D = 2024-12-30: c02 on 12-31 (1 day), c03 on 2025-01-01 (2 days)
    SegmentCase("birthday_year_wrap", Birthday(within_days=2), ids("c02", "c03"), AS_OF_YEAR_END),
    SegmentCase("birthday_year_wrap_1", Birthday(within_days=1), ids("c02"), AS_OF_YEAR_END),
    # --- has_tag -----------------------------------------------------------------------------
    SegmentCase("has_tag_vip", HasTag(tag="vip"), ids("c01", "c29")),  # c30 has "VIP"
    SegmentCase("has_tag_missing", HasTag(tag="nobody"), ids()),
    # --- aggregate: windows ------------------------------------------------------------------
    SegmentCase("aggregate_orders_ever", count(activity(ORDERS)), BUYERS),
    SegmentCase("aggregate_orders_within_30d", count(activity(ORDERS, within("30d"))), ORDERED_30D),
    # c03's order is exactly 31 days ago
    SegmentCase(
        "aggregate_orders_within_31d", count(activity(ORDERS, within("31d"))), ORDERED_30D | {"c03"}
    ),
    # 4 weeks = 28 days: c02's only order (30 days ago) drops out
    SegmentCase(
        "aggregate_orders_within_4w", count(activity(ORDERS, within("4w"))), ORDERED_30D - {"c02"}
    ),
    # D − 1 month = 2024-04-15 = D − 30 days
    SegmentCase("aggregate_orders_within_1m", count(activity(ORDERS, within("1m"))), ORDERED_30D),
    # c36 ordered 2024-05-14 22:00 UTC = 2024-05-15 00:00 local
    SegmentCase("aggregate_orders_within_0d", count(activity(ORDERS, within("0d"))), ids("c36")),
    SegmentCase(
        "aggregate_orders_within_1d", count(activity(ORDERS, within("1d"))), ids("c35", "c36")
    ),
    # as_of − 24 h = 2024-05-14 21:59:59.999999 UTC: c36 (22:00) in, c35 (21:30) out
    SegmentCase("aggregate_orders_within_24h", count(activity(ORDERS, within("24h"))), ids("c36")),
    SegmentCase(
        "aggregate_page_view_within_1h", count(activity("page_view", within("1h"))), ids("c29")
    ),
    # at least 24 h ago (instant <= 2024-05-14 21:59:59.999999) and at most 7 days (>= 05-08)
    SegmentCase(
        "aggregate_orders_ago_24h_7d",
        count(activity(ORDERS, ago("24h", "7d"))),
        ids("c01", "c11", "c12", "c19", "c20", "c26", "c29", "c35"),
    ),
    # local dates 2024-04-15 .. 2024-05-08
    SegmentCase(
        "aggregate_orders_ago_1w_1m",
        count(activity(ORDERS, ago("1w", "1m"))),
        ids(
            "c01",
            "c02",
            "c10",
            "c11",
            "c12",
            "c21",
            "c22",
            "c25",
            "c29",
            "c31",
            "c32",
            "c37",
            "c38",
        ),
    ),
    SegmentCase(
        "aggregate_orders_ago_61d_120d",
        count(activity(ORDERS, ago("61d", "120d"))),
        ids("c05", "c06", "c30", "c37", "c38"),
    ),
    # no oldest bound: 181 or more days ago (c09 exactly 181, c10's first order 200)
    SegmentCase(
        "aggregate_orders_ago_open",
        count(activity(ORDERS, Ago(newest=dur("181d")))),
        ids("c09", "c10"),
    ),
    # c37's 2024-03-31 22:30 UTC order is 1 April locally
    SegmentCase(
        "aggregate_orders_dates_local",
        count(activity(ORDERS, Dates(start=date(2024, 3, 31), end=date(2024, 3, 31)))),
        ids("c01", "c16"),
    ),
    SegmentCase(
        "aggregate_orders_dates_dst",
        count(activity(ORDERS, Dates(start=date(2024, 3, 30), end=date(2024, 3, 30)))),
        ids("c17"),
        AS_OF_DST,
    ),
    # D = 2024-03-31 (as_of 01:30 UTC): c16's order is 00:30 local today, c17's 23:30 yesterday
    SegmentCase(
        "aggregate_orders_within_0d_dst",
        count(activity(ORDERS, within("0d"))),
        ids("c16"),
        AS_OF_DST,
    ),
    SegmentCase(
        "aggregate_orders_within_24h_dst",
        count(activity(ORDERS, within("24h"))),
        ids("c16", "c17"),
        AS_OF_DST,
    ),
    # orders before signup do not count: c03 (order 04-14, signup 04-20), c35 (order 05-14,
    # signup 05-15); c16/c17 order on their (local) signup date; c04 has no signup date
    SegmentCase(
        "aggregate_orders_since_signup",
        count(activity(ORDERS, SinceSignup())),
        BUYERS - {"c03", "c35"},
    ),
    SegmentCase(
        "aggregate_orders_each_month_3", count(activity(ORDERS, EachMonth(months=3))), ids("c38")
    ),
    SegmentCase(
        "aggregate_orders_each_month_2",
        count(activity(ORDERS, EachMonth(months=2))),
        ids("c01", "c38"),
    ),
    SegmentCase(
        "aggregate_orders_each_month_sum",
        agg(activity(ORDERS, EachMonth(months=3)), "sum", "amount", "gte", 50),
        ids("c38"),
    ),
    SegmentCase(
        "aggregate_orders_each_month_sum_500",
        agg(activity(ORDERS, EachMonth(months=2)), "sum", "amount", "gte", 500),
        ids("c01"),
    ),
    SegmentCase(
        "aggregate_orders_each_month_none",
        count(activity(ORDERS, EachMonth(months=3)), "eq", 0),
        UNIVERSE - ORDERED_FEB_TO_APR,
    ),
    # --- aggregate: functions ----------------------------------------------------------------
    SegmentCase(
        "aggregate_orders_count_gte_2",
        count(activity(ORDERS, within("30d")), "gte", 2),
        ids("c01", "c11", "c12"),
    ),
    # "has not ordered in 90 days" includes customers who never ordered (c14: cancelled only)
    SegmentCase(
        "aggregate_orders_count_eq_0",
        count(activity(ORDERS, within("90d")), "eq", 0),
        NO_ORDERS | {"c06", "c07", "c08", "c09"},
    ),
    # "spent under 100" includes customers who spent nothing
    SegmentCase(
        "aggregate_orders_sum_lt",
        agg(activity(ORDERS), "sum", "amount", "lt", 100),
        NO_ORDERS | {"c06", "c07", "c16", "c17", "c19", "c20", "c21", "c35"},
    ),
    SegmentCase(
        "aggregate_orders_sum_within",
        agg(activity(ORDERS, within("30d")), "sum", "amount", "gte", 1000),
        ids("c01", "c29"),
    ),
    SegmentCase(
        "aggregate_orders_avg_gt", agg(activity(ORDERS), "avg", "amount", "gt", 1000), ids("c29")
    ),
    SegmentCase(
        "aggregate_orders_avg_eq", agg(activity(ORDERS), "avg", "amount", "eq", 40), ids("c12")
    ),
    SegmentCase(
        "aggregate_orders_min_lt",
        agg(activity(ORDERS), "min", "amount", "lt", 60),
        ids("c12", "c21", "c38"),  # c38's March order is 50.00
    ),
    # c14's 999.00 order is cancelled
    SegmentCase(
        "aggregate_orders_max_gte",
        agg(activity(ORDERS), "max", "amount", "gte", 1000),
        ids("c01", "c29"),
    ),
    # c01: Praha, Brno, NULL -> 2; c38: Praha x3 (+ a cancelled Olomouc order) -> 1
    SegmentCase(
        "aggregate_orders_count_distinct_eq",
        agg(activity(ORDERS), "count_distinct", "store", "eq", 2),
        ids("c01"),
    ),
    SegmentCase(
        "aggregate_orders_count_distinct_gte",
        agg(activity(ORDERS), "count_distinct", "store", "gte", 1),
        ids("c01", "c38"),
    ),
    SegmentCase(
        "aggregate_orders_filter_status_null",
        count(activity(ORDERS, None, where("status", "is_not_set"))),
        ids("c01"),
    ),
    # --- aggregate: order items, returns, events ---------------------------------------------
    # c14's p1 is in a cancelled order; c15 is not a customer yet
    SegmentCase(
        "aggregate_order_items_custom_product_attribute",
        count(activity("order_items", None, where("product.gluten_free", "eq", True))),
        ids("c01", "c21", "c30"),
    ),
    SegmentCase(
        "aggregate_order_items_product_attribute_is_not_set",
        count(activity("order_items", None, where("product.gluten_free", "is_not_set"))),
        ids("c01", "c22", "c29", "c30"),
    ),
    # value = quantity x unit_price: c29 5 x 399.00 = 1995.00
    SegmentCase(
        "aggregate_order_items_sum_value",
        agg(
            activity("order_items", None, where("product.category", "eq", "clothing")),
            "sum",
            "value",
            "gte",
            1000,
        ),
        ids("c29"),
    ),
    SegmentCase(
        "aggregate_order_items_count_distinct_product",
        agg(activity("order_items"), "count_distinct", "product_id", "gte", 3),
        ids("c01", "c30"),
    ),
    SegmentCase(
        "aggregate_order_items_avg_unit_price",
        agg(activity("order_items"), "avg", "unit_price", "gt", 100),
        ids("c01", "c22", "c29", "c30"),
    ),
    SegmentCase(
        "aggregate_order_items_max_quantity",
        agg(activity("order_items"), "max", "quantity", "gte", 5),
        ids("c01", "c29"),
    ),
    SegmentCase(
        "aggregate_order_items_within",
        count(activity("order_items", within("7d"))),
        ids("c01", "c29"),
    ),
    # returns are the returns table as is (c14 returned an item of its cancelled order)
    SegmentCase("aggregate_returns_ever", count(activity("returns")), ids("c01", "c14", "c30")),
    SegmentCase(
        "aggregate_returns_within", count(activity("returns", within("20d"))), ids("c01", "c14")
    ),
    SegmentCase(
        "aggregate_returns_product_filter",
        count(activity("returns", None, where("product.category", "eq", "clothing"))),
        ids("c30"),
    ),
    SegmentCase(
        "aggregate_returns_sum", agg(activity("returns"), "sum", "amount", "gte", 100), ids("c30")
    ),
    SegmentCase(
        "aggregate_event_property_filter",
        count(activity("cart_updated", None, where("value", "gte", 100))),
        ids("c20"),
    ),
    SegmentCase(
        "aggregate_event_property_filter_within",
        count(activity("support_ticket", within("7d"), where("topic", "eq", "delivery"))),
        ids("c36"),
    ),
    SegmentCase(
        "aggregate_event_product_filter",
        count(activity("page_view", None, where("product.category", "eq", "clothing"))),
        ids("c01", "c29"),
    ),
    # c24's answer is on 2024-05-16, after AS_OF
    SegmentCase(
        "aggregate_event_max", agg(activity("survey_response"), "max", "nps", "gte", 9), ids("c23")
    ),
    SegmentCase(
        "aggregate_event_min_later_as_of",
        agg(activity("survey_response"), "min", "csat", "lte", 1),
        ids("c24"),
        AS_OF_LEAP,
    ),
    # --- sequence ----------------------------------------------------------------------------
    # c19: order 10 h after the cart; c20: 30 h after; c13: no order at all
    SegmentCase(
        "sequence_cart_followed_24h",
        Sequence(
            first=activity("cart_updated"), then=activity(ORDERS), followed=True, within=dur("24h")
        ),
        ids("c19"),
    ),
    SegmentCase(
        "sequence_cart_not_followed_24h",
        Sequence(
            first=activity("cart_updated"), then=activity(ORDERS), followed=False, within=dur("24h")
        ),
        ids("c13", "c20"),
    ),
    SegmentCase(
        "sequence_cart_followed_2d",
        Sequence(
            first=activity("cart_updated"), then=activity(ORDERS), followed=True, within=dur("2d")
        ),
        ids("c19", "c20"),
    ),
    SegmentCase(
        "sequence_cart_followed_until_as_of",
        Sequence(first=activity("cart_updated"), then=activity(ORDERS), followed=True),
        ids("c19", "c20"),
    ),
    # only carts of the last 3 days (>= 05-12): c19's is followed, c13's is not
    SegmentCase(
        "sequence_first_window_not_followed",
        Sequence(
            first=activity("cart_updated", within("3d")),
            then=activity(ORDERS),
            followed=False,
            within=dur("24h"),
        ),
        ids("c13"),
    ),
    SegmentCase(
        "sequence_inquiry_followed_match",
        Sequence(
            first=activity("product_inquiry"),
            then=activity("order_items"),
            followed=True,
            within=dur("7d"),
            match=(("product_id", "product_id"),),
        ),
        ids("c21"),
    ),
    SegmentCase(
        "sequence_inquiry_followed_no_match",
        Sequence(
            first=activity("product_inquiry"),
            then=activity("order_items"),
            followed=True,
            within=dur("7d"),
        ),
        ids("c21", "c22"),
    ),
    SegmentCase(
        "sequence_inquiry_not_followed_match",
        Sequence(
            first=activity("product_inquiry"),
            then=activity("order_items"),
            followed=False,
            within=dur("7d"),
            match=(("product_id", "product_id"),),
        ),
        ids("c22"),
    ),
    SegmentCase(
        "sequence_survey_not_answered",
        Sequence(
            first=activity("survey_sent"),
            then=activity("survey_response"),
            followed=False,
            match=(("survey_id", "survey_id"),),
        ),
        ids("c24"),
    ),
    # The then record must be strictly later: c25's checkout and order share one instant, so
    # the order does not follow the checkout (not even with 0 h allowed).
    SegmentCase(
        "sequence_same_instant_does_not_follow",
        Sequence(
            first=activity("checkout_started"),
            then=activity(ORDERS),
            followed=True,
            within=dur("0h"),
        ),
        ids(),
    ),
    # No record follows itself: an order in the last 60 days followed by a LATER order. The
    # buyers with a single recent order (c19, c20, c26, c29, c35, c36, ...) are out.
    SegmentCase(
        "sequence_later_record_of_same_source",
        Sequence(
            first=activity(ORDERS, within("60d")),
            then=activity(ORDERS),
            followed=True,
        ),
        ids("c01", "c11", "c12", "c37"),
    ),
    # --- recency -----------------------------------------------------------------------------
    SegmentCase(
        "recency_last_eq", Recency(activity=activity(ORDERS), comparison=cmp("eq", 30)), ids("c02")
    ),
    SegmentCase(
        "recency_first_in_window",
        Recency(activity=activity(ORDERS, within("60d")), which="first", comparison=cmp("eq", 30)),
        ids("c02", "c11", "c12"),
    ),
    SegmentCase(
        "recency_first_ever_gte",
        Recency(activity=activity(ORDERS), which="first", comparison=cmp("gte", 150)),
        ids("c08", "c09", "c10", "c11", "c12"),
    ),
    SegmentCase(
        "recency_last_gte_border",
        Recency(activity=activity(ORDERS), comparison=cmp("gte", 181)),
        ids("c09"),
    ),
    SegmentCase(
        "recency_last_is_not_set",
        Recency(activity=activity(ORDERS), comparison=cmp("is_not_set")),
        NO_ORDERS,
    ),
    SegmentCase(
        "recency_event_last",
        Recency(activity=activity("page_view"), comparison=cmp("lte", 1)),
        ids("c01", "c29"),
    ),
    # --- metric: lifecycle -------------------------------------------------------------------
    SegmentCase("metric_lifecycle_zero", metric("lifecycle", "eq", "zero"), NO_ORDERS),
    SegmentCase("metric_lifecycle_active", metric("lifecycle", "eq", "active"), ACTIVE),
    # c10: gap 190 days; c12: gap 121 days (p = 30 days ago, q = 151); c11's gap is 120
    SegmentCase(
        "metric_lifecycle_returned", metric("lifecycle", "eq", "returned"), ids("c10", "c12")
    ),
    SegmentCase(
        "metric_lifecycle_pre_churn", metric("lifecycle", "eq", "pre_churn"), ids("c05", "c06")
    ),
    SegmentCase("metric_lifecycle_churn", metric("lifecycle", "eq", "churn"), ids("c07", "c08")),
    SegmentCase("metric_lifecycle_gone", metric("lifecycle", "eq", "gone"), ids("c09")),
    SegmentCase(
        "metric_lifecycle_in",
        metric("lifecycle", "in", ("churn", "gone")),
        ids("c07", "c08", "c09"),
    ),
    # --- metric: RFM (the ranking is worked out in tests/reference/test_lifecycle_rfm.py) ------
    SegmentCase(
        "metric_recency_days_lte",
        metric("recency_days", "lte", 5),
        ids("c01", "c11", "c12", "c19", "c20", "c35", "c36"),
    ),
    SegmentCase(
        "metric_frequency_gte",
        metric("frequency", "gte", 3),
        ids("c01", "c11", "c12", "c37", "c38"),
    ),
    # frequency is a count: 0 (not NULL) without orders
    SegmentCase("metric_frequency_eq_0", metric("frequency", "eq", 0), NO_ORDERS),
    SegmentCase(
        "metric_monetary_gte", metric("monetary", "gte", 500), ids("c01", "c29", "c30", "c36")
    ),
    # c01 and c12 both ordered last 5 days ago; by customer_id c01 ranks lower (R4), c12 R5
    SegmentCase(
        "metric_r_score_5",
        metric("r_score", "eq", 5),
        ids("c11", "c12", "c19", "c20", "c35", "c36"),
    ),
    SegmentCase(
        "metric_r_score_4", metric("r_score", "eq", 4), ids("c01", "c10", "c25", "c26", "c29")
    ),
    SegmentCase(
        "metric_f_score_5",
        metric("f_score", "eq", 5),
        ids("c01", "c11", "c12", "c30", "c37", "c38"),
    ),
    # monetary 120.00: c12 (position 10) scores 2, c25 and c26 (11, 12) score 3
    SegmentCase(
        "metric_m_score_2", metric("m_score", "eq", 2), ids("c02", "c03", "c12", "c16", "c17")
    ),
    SegmentCase(
        "metric_m_score_3",
        metric("m_score", "eq", 3),
        ids("c04", "c05", "c11", "c25", "c26", "c37"),
    ),
    SegmentCase("metric_r_score_is_not_set", metric("r_score", "is_not_set"), NO_ORDERS),
    SegmentCase(
        "metric_rfm_group_ranges_potential_loyalist",
        metric("rfm_group", "eq", "Potential Loyalist"),
        ids(
            "c01",
            "c10",
            "c11",
            "c12",
            "c22",
            "c25",
            "c26",
            "c29",
            "c31",
            "c32",
            "c36",
            "c37",
            "c38",
        ),
    ),
    SegmentCase(
        "metric_rfm_group_ranges_lost",
        metric("rfm_group", "eq", "Lost"),
        ids("c04", "c05", "c06", "c07"),
    ),
    SegmentCase(
        "metric_rfm_group_ranges_at_risk",
        metric("rfm_group", "eq", "At Risk"),
        ids("c08", "c09", "c30"),
    ),
    SegmentCase(
        "metric_rfm_group_ranges_about_to_sleep",
        metric("rfm_group", "eq", "About To Sleep", "ranges"),
        ids("c02", "c03", "c21"),
    ),
    SegmentCase(
        "metric_rfm_group_ranges_loyal",
        metric("rfm_group", "eq", "Loyal Customers"),
        ids("c16", "c17"),
    ),
    SegmentCase(
        "metric_rfm_group_ranges_new", metric("rfm_group", "eq", "New Customers"), ids("c19", "c20")
    ),
    # c35 is R5 F4 M1: no row of the ranges table matches
    SegmentCase("metric_rfm_group_ranges_others", metric("rfm_group", "eq", "Others"), ids("c35")),
    SegmentCase("metric_rfm_group_is_not_set", metric("rfm_group", "is_not_set"), NO_ORDERS),
    SegmentCase(
        "metric_rfm_group_grid_champions",
        metric("rfm_group", "eq", "Champions", "grid"),
        ids("c11", "c12", "c35", "c36"),
    ),
    SegmentCase(
        "metric_rfm_group_grid_hibernating",
        metric("rfm_group", "eq", "Hibernating", "grid"),
        ids("c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "c16", "c17"),
    ),
    SegmentCase(
        "metric_rfm_group_grid_cant_lose",
        metric("rfm_group", "eq", "Can't Lose Them", "grid"),
        ids("c30"),
    ),
    SegmentCase(
        "metric_rfm_group_grid_potential",
        metric("rfm_group", "eq", "Potential Loyalists", "grid"),
        ids("c19", "c20", "c25", "c26", "c29"),
    ),
    SegmentCase(
        "metric_rfm_group_grid_loyal",
        metric("rfm_group", "eq", "Loyal Customers", "grid"),
        ids("c01", "c10", "c31", "c32", "c37", "c38"),
    ),
    SegmentCase(
        "metric_rfm_group_grid_need_attention",
        metric("rfm_group", "eq", "Need Attention", "grid"),
        ids("c21", "c22"),
    ),
    SegmentCase("metric_rfm_group_four_new", metric("rfm_group", "eq", "new", "four"), ids("c19")),
    SegmentCase(
        "metric_rfm_group_four_potentially_lost",
        metric("rfm_group", "eq", "potentially lost", "four"),
        ids("c30"),
    ),
    SegmentCase(
        "metric_rfm_group_four_inactive",
        metric("rfm_group", "eq", "inactive", "four"),
        ids("c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "c16", "c17"),
    ),
    SegmentCase(
        "metric_rfm_group_four_loyal",
        metric("rfm_group", "eq", "loyal", "four"),
        BUYERS
        - {"c19", "c30", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "c16", "c17"},
    ),
    # --- percentile --------------------------------------------------------------------------
    SegmentCase(
        "percentile_top_metric",
        Percentile(measure=MetricMeasure(metric="monetary"), direction="top", percent=5),
        ids("c01", "c29"),
    ),
    # recency_days is NULL without orders: n = 28, c = ceil(2.8) = 3
    SegmentCase(
        "percentile_top_metric_recency",
        Percentile(measure=MetricMeasure(metric="recency_days"), direction="top", percent=10),
        ids("c07", "c08", "c09"),
    ),
    SegmentCase(
        "percentile_bottom_metric_recency",
        Percentile(measure=MetricMeasure(metric="recency_days"), direction="bottom", percent=10),
        ids("c11", "c35", "c36"),
    ),
    # count is 0 for everyone else, so n = 37 and c = ceil(7.4) = 8: the four with 2-3 orders in
    # 60 days, then the ties at 1 order broken by the highest customer_id: c38, c36, c35, c32
    SegmentCase(
        "percentile_top_aggregate_ties",
        Percentile(
            measure=AggregateMeasure(activity=activity(ORDERS, within("60d"))),
            direction="top",
            percent=20,
        ),
        ids("c01", "c11", "c12", "c37", "c38", "c36", "c35", "c32"),
    ),
    # sum is 0 without orders: n = 37, c = 4, lowest ids among the zeros
    SegmentCase(
        "percentile_bottom_aggregate_sum",
        Percentile(
            measure=AggregateMeasure(activity=activity(ORDERS), function="sum", field="amount"),
            direction="bottom",
            percent=10,
        ),
        ids("c13", "c14", "c18", "c23"),
    ),
    # avg is NULL without orders: n = 28, c = 3: 40.00, 59.90, 60.00
    SegmentCase(
        "percentile_bottom_aggregate_avg",
        Percentile(
            measure=AggregateMeasure(activity=activity(ORDERS), function="avg", field="amount"),
            direction="bottom",
            percent=10,
        ),
        ids("c11", "c12", "c21"),
    ),
    # --- subscription ------------------------------------------------------------------------
    SegmentCase("subscription_sms", Subscription(channel="sms"), ids("c01", "c27")),
    SegmentCase("subscription_email", Subscription(channel="email"), ids("c01", "c28")),
    # c27's opt-in is dated after AS_OF: consent is a current state
    SegmentCase("subscription_web_push", Subscription(channel="web_push"), ids("c27")),
    # --- message reaction --------------------------------------------------------------------
    SegmentCase(
        "message_reaction_clicked",
        MessageReaction(reaction="clicked", campaign="spring"),
        ids("c25", "c28"),
    ),
    SegmentCase(
        "message_reaction_clicked_channel",
        MessageReaction(reaction="clicked", campaign="spring", channel="sms"),
        ids("c25"),
    ),
    # c15 is not a customer yet; c27's message is after AS_OF
    SegmentCase(
        "message_reaction_received",
        MessageReaction(reaction="received", campaign="spring"),
        ids("c25", "c26"),
    ),
    SegmentCase(
        "message_reaction_received_window",
        MessageReaction(reaction="received", window=within("14d")),
        ids("c25", "c26"),
    ),
    SegmentCase(
        "message_reaction_received_window_too_short",
        MessageReaction(reaction="received", window=within("13d")),
        ids(),
    ),
    SegmentCase(
        "message_reaction_delivered_channel",
        MessageReaction(reaction="delivered", channel="email"),
        ids("c26"),
    ),
    # c25 ordered 3 days after delivery; c26 7 days 23 h 59 min after (8 days > default 7)
    SegmentCase(
        "message_reaction_converted",
        MessageReaction(reaction="converted", campaign="spring"),
        ids("c25"),
    ),
    SegmentCase(
        "message_reaction_converted_days",
        MessageReaction(reaction="converted", campaign="spring", conversion_days=8),
        ids("c25", "c26"),
    ),
    SegmentCase(
        "message_reaction_converted_any", MessageReaction(reaction="converted"), ids("c25")
    ),
    # --- segment reference -------------------------------------------------------------------
    SegmentCase("segment_ref_simple", SegmentRef(segment="has_tag_vip"), ids("c01", "c29")),
    SegmentCase("segment_ref_nested", SegmentRef(segment="segment_ref_simple"), ids("c01", "c29")),
    SegmentCase(
        "segment_ref_in_combination",
        All(
            items=(
                SegmentRef(segment="metric_lifecycle_active"),
                Not(item=SegmentRef(segment="subscription_sms")),
            )
        ),
        ACTIVE - {"c01"},
    ),
    # --- bucket ------------------------------------------------------------------------------
    # hard-coded: md5("exp1:c01") and md5("exp1:c13") are the only ones below 10 mod 100
    SegmentCase(
        "bucket_hardcoded",
        Bucket(seed="exp1", modulo=100, comparison=cmp("lt", 10)),
        ids("c01", "c13"),
    ),
    SegmentCase(
        "bucket_computed",
        Bucket(seed="ab", modulo=3, comparison=cmp("eq", 0)),
        bucket_ids("ab", 3, 0),
    ),
    SegmentCase(
        "bucket_computed_other",
        Bucket(seed="ab", modulo=3, comparison=cmp("eq", 2)),
        bucket_ids("ab", 3, 2),
    ),
    # --- manual list -------------------------------------------------------------------------
    # c15 is not a customer yet, c99 does not exist
    SegmentCase("manual_list_members", ManualList(list_name="vip_list"), ids("c01", "c29")),
    SegmentCase("manual_list_unknown", ManualList(list_name="nobody"), ids()),
    # --- combinations ------------------------------------------------------------------------
    SegmentCase(
        "all_tag_and_recent_order",
        All(items=(HasTag(tag="vip"), count(activity(ORDERS, within("30d"))))),
        ids("c01", "c29"),
    ),
    SegmentCase(
        "any_list_or_push",
        AnyOf(items=(ManualList(list_name="vip_list"), Subscription(channel="web_push"))),
        ids("c01", "c27", "c29"),
    ),
    SegmentCase(
        "any_nested",
        AnyOf(
            items=(
                All(items=(attr("country", "eq", "SK"), metric("lifecycle", "eq", "active"))),
                Not(item=attr("country", "is_set")),
            )
        ),
        ids("c04", "c21", "c22", "c13", "c34", "c35"),  # c12 (SK) is returned, not active
    ),
    SegmentCase(
        "not_aggregate", Not(item=count(activity(ORDERS, within("30d")))), UNIVERSE - ORDERED_30D
    ),
]

CASES_BY_NAME: dict[str, SegmentCase] = {case.name: case for case in CASES}
assert len(CASES_BY_NAME) == len(CASES), "case names must be unique"


def cases_at(as_of: datetime) -> list[SegmentCase]:
    return [case for case in CASES if case.as_of == as_of]


AS_OF_INSTANTS: tuple[datetime, ...] = (AS_OF, AS_OF_DST, AS_OF_LEAP, AS_OF_YEAR_END)
