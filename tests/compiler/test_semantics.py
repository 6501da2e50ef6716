"""Exact members for each node kind, per docs/segment-semantics.md."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler import compile_explain, compile_segments
from segmentum.compiler.bucket import bucket_python
from segmentum.compiler.lower import birthday_codes
from segmentum.compiler.windows import minus_months
from segmentum.spec.nodes import (
    Activity,
    Aggregate,
    AggregateMeasure,
    Ago,
    All,
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
    Node,
    Not,
    Percentile,
    Recency,
    SegmentRef,
    Sequence,
    SinceSignup,
    Subscription,
    Within,
)
from tests.compiler.conftest import AS_OF, D, MakeTables, customer, members, order


def cmp(op: str, value: Any = None) -> Comparison:
    return Comparison.model_validate({"op": op, "value": value})


def dur(text: str) -> Duration:
    return Duration(amount=int(text[:-1]), unit=text[-1])  # type: ignore[arg-type]


def ago(days: int) -> date:
    return D - timedelta(days=days)


def count_orders(window: Any, op: str = "gte", value: int = 1) -> Aggregate:
    return Aggregate(activity=Activity(source="orders", window=window), comparison=cmp(op, value))


def evaluate(
    definitions: dict[str, Node], catalog: Catalog, settings: WorkspaceSettings, tables: Any
) -> dict[str, set[str]]:
    expr = compile_segments(definitions, catalog, settings, tables, AS_OF)
    return {name: members(expr, name) for name in definitions}


def test_windows(catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables) -> None:
    # AS_OF = 2024-05-10 12:00 UTC, D = 2024-05-10
    orders = [
        order("o0", "d0", ago(0)),
        order("o30", "d30", ago(30)),
        order("o31", "d31", ago(31)),
        order("m", "m", date(2024, 4, 10)),  # exactly D - 1 month
        order("m2", "m2", date(2024, 4, 9)),
        {**order("h", "h", D), "ordered_at": datetime(2024, 5, 9, 12, 0)},  # 24h ago exactly
        {**order("h2", "h2", D), "ordered_at": datetime(2024, 5, 9, 11, 59)},
        {**order("fut", "fut", D), "ordered_at": datetime(2024, 5, 10, 12, 0, 1)},
    ]
    customers = [customer(c) for c in ("d0", "d30", "d31", "m", "m2", "h", "h2", "fut")]
    customers.append(customer("since", signup_date=date(2024, 4, 1)))
    orders += [order("s1", "since", date(2024, 3, 31)), order("s2", "since", date(2024, 4, 1))]
    customers.append(customer("before", signup_date=date(2024, 4, 2)))
    orders.append(order("b1", "before", date(2024, 4, 1)))
    tables = make_tables(customers=customers, orders=orders)
    got = evaluate(
        {
            "within_30d": count_orders(Within(duration=dur("30d"))),
            "within_1m": count_orders(Within(duration=dur("1m"))),
            "within_24h": count_orders(Within(duration=dur("24h"))),
            "ago_1d_30d": count_orders(Ago(newest=dur("1d"), oldest=dur("30d"))),
            "ago_31d": count_orders(Ago(newest=dur("31d"))),
            "dates": count_orders(Dates(start=date(2024, 4, 9), end=date(2024, 4, 10))),
            "since": count_orders(SinceSignup(), "eq", 1),
            "ever": count_orders(Within(duration=dur("10000d"))),
        },
        catalog,
        settings,
        tables,
    )
    # 2024-04-10 is both 30 days and one calendar month before D
    assert got["within_30d"] == {"d0", "d30", "m", "h", "h2"}
    assert got["within_1m"] == {"d0", "d30", "m", "h", "h2"}
    assert got["within_24h"] == {"d0", "h"}
    assert got["ago_1d_30d"] == {"d30", "m"}
    assert got["ago_31d"] == {"d31", "m2", "since", "before"}
    assert got["dates"] == {"d30", "d31", "m", "m2"}
    assert got["since"] == {"since", "d0", "d30", "d31", "m", "m2", "h", "h2"}
    assert "fut" not in got["ever"]


def test_minus_months_clamps() -> None:
    assert minus_months(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert minus_months(date(2023, 3, 31), 1) == date(2023, 2, 28)
    assert minus_months(date(2024, 1, 15), 13) == date(2022, 12, 15)


def test_each_month_and_interactions(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    # D = 2024-05-10: the months are February, March, April
    orders = [
        order("a2", "a", date(2024, 2, 29)),
        order("a3", "a", date(2024, 3, 1)),
        order("a4", "a", date(2024, 4, 30)),
        order("b2", "b", date(2024, 2, 1)),
        order("b4", "b", date(2024, 4, 1)),
        order("b5", "b", date(2024, 5, 1)),
        order("c2", "c", date(2024, 2, 1)),
        order("c4", "c", date(2024, 4, 1)),
    ]
    events = [
        {
            "event_id": "e1",
            "customer_id": "c",
            "type": "page_view",
            "occurred_at": datetime(2024, 3, 5, 8),
            "local_date": date(2024, 3, 5),
        },
    ]
    tables = make_tables(customers=[customer(c) for c in "abc"], orders=orders, events=events)
    got = evaluate(
        {
            "orders_each": count_orders(EachMonth(months=3)),
            "interactions_each": Aggregate(
                activity=Activity(source="interactions", window=EachMonth(months=3)),
                comparison=cmp("gte", 1),
            ),
        },
        catalog,
        settings,
        tables,
    )
    assert got == {"orders_each": {"a"}, "interactions_each": {"a", "c"}}


def test_aggregates_and_null_rules(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    orders = [
        order("a1", "a", ago(1), "10.00"),
        order("a2", "a", ago(2), "20.01"),
        order("b1", "b", ago(1), "30.00", store="x"),
        order("b2", "b", ago(1), "5.00", status="cancelled"),
    ]
    customers = [customer("a", country="CZ"), customer("b", country="SK"), customer("c")]
    tables = make_tables(customers=customers, orders=orders)
    got = evaluate(
        {
            "spent_under_25": Aggregate(
                activity=Activity(source="orders"),
                function="sum",
                field="amount",
                comparison=cmp("lt", 25),
            ),
            "avg_15_005": Aggregate(
                activity=Activity(source="orders"),
                function="avg",
                field="amount",
                comparison=cmp("eq", "15.005"),
            ),
            "avg_gt_20": Aggregate(
                activity=Activity(source="orders"),
                function="avg",
                field="amount",
                comparison=cmp("gt", 20),
            ),
            "max_lt_100": Aggregate(
                activity=Activity(source="orders"),
                function="max",
                field="amount",
                comparison=cmp("lt", 100),
            ),
            "no_orders": count_orders(Within(duration=dur("90d")), "eq", 0),
            "stores": Aggregate(
                activity=Activity(source="orders"),
                function="count_distinct",
                field="store",
                comparison=cmp("eq", 0),
            ),
            "not_cz": Attribute(field="country", comparison=cmp("ne", "CZ")),
            "not_eq_cz": Not(item=Attribute(field="country", comparison=cmp("eq", "CZ"))),
            "country_unset": Attribute(field="country", comparison=cmp("is_not_set")),
        },
        catalog,
        settings,
        tables,
    )
    assert got == {
        "spent_under_25": {"c"},
        "avg_15_005": {"a"},
        "avg_gt_20": {"b"},
        "max_lt_100": {"a", "b"},
        "no_orders": {"c"},
        "stores": {"a", "c"},
        "not_cz": {"b"},
        "not_eq_cz": {"b", "c"},
        "country_unset": {"c"},
    }


def test_sequences_and_conversions(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    def ev(eid: str, cid: str, kind: str, at: datetime, **props: Any) -> dict[str, Any]:
        return {
            "event_id": eid,
            "customer_id": cid,
            "type": kind,
            "occurred_at": at,
            "local_date": at.date(),
            **props,
        }

    t0 = datetime(2024, 5, 1, 10)
    events = [
        ev("a1", "a", "cart_updated", t0, cart_id="c1"),
        ev("a2", "a", "checkout_started", t0 + timedelta(hours=2), cart_id="c1"),
        ev("b1", "b", "cart_updated", t0, cart_id="c1"),
        ev("b2", "b", "checkout_started", t0 + timedelta(hours=2), cart_id="c2"),
        ev("c1", "c", "cart_updated", t0, cart_id="c1"),
        ev("c2", "c", "checkout_started", t0 + timedelta(hours=30), cart_id="c1"),
        ev("s1", "s", "survey_response", t0, csat=1),
        ev("s2", "s", "survey_response", t0 + timedelta(days=1), csat=5),
        ev("t1", "t", "survey_response", t0, csat=5),
        ev("t2", "t", "survey_response", t0 + timedelta(days=1), csat=2),
        ev("m1", "m", "message_delivered", t0, campaign_id="spring", channel="sms"),
        ev("n1", "n", "message_delivered", t0, campaign_id="spring", channel="sms"),
        ev("n2", "n", "message_opened", t0, campaign_id="spring", channel="sms"),
    ]
    orders = [
        {**order("m", "m", t0.date()), "ordered_at": t0 + timedelta(days=7)},
        {**order("n", "n", t0.date()), "ordered_at": t0 + timedelta(days=7, seconds=1)},
    ]
    tables = make_tables(customers=[customer(c) for c in "abcstmn"], events=events, orders=orders)
    checkout = Activity(source="checkout_started")
    got = evaluate(
        {
            "same_cart_24h": Sequence(
                first=Activity(source="cart_updated"),
                then=checkout,
                followed=True,
                within=dur("24h"),
                match=(("cart_id", "cart_id"),),
            ),
            "abandoned": Sequence(
                first=Activity(source="cart_updated"),
                then=checkout,
                followed=False,
                within=dur("1d"),
                match=(("cart_id", "cart_id"),),
            ),
            "latest_low_csat": Sequence(
                first=Activity(
                    source="survey_response",
                    filters=(Filter(field="csat", comparison=cmp("lte", 2)),),
                ),
                then=Activity(source="survey_response"),
                followed=False,
            ),
            "converted": MessageReaction(reaction="converted", campaign="spring"),
            "opened": MessageReaction(reaction="opened", channel="sms"),
        },
        catalog,
        settings,
        tables,
    )
    assert got == {
        "same_cart_24h": {"a"},
        "abandoned": {"b", "c"},
        "latest_low_csat": {"t"},
        "converted": {"m"},
        "opened": {"n"},
    }


def test_profile_subscription_lists_bucket(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    customers = [
        customer("a", birth_date=date(2000, 5, 10), tags=["vip"], signup_date=ago(10)),
        customer("b", birth_date=date(2000, 5, 11), tags=[]),
        customer("c", birth_date=date(2004, 2, 29)),
        customer("late", signup_at=datetime(2024, 5, 11)),
    ]
    subs = [
        {
            "customer_id": "a",
            "channel": "sms",
            "status": "opted_in",
            "changed_at": datetime(2024, 1, 1),
        },
        {
            "customer_id": "b",
            "channel": "sms",
            "status": "opted_out",
            "changed_at": datetime(2024, 1, 1),
        },
        {
            "customer_id": "c",
            "channel": "email",
            "status": "opted_in",
            "changed_at": datetime(2024, 1, 1),
        },
    ]
    lists = [{"list_name": "vip", "customer_id": "b"}, {"list_name": "other", "customer_id": "a"}]
    tables = make_tables(customers=customers, subscriptions=subs, manual_list_members=lists)
    got = evaluate(
        {
            "age_24": Derived(field="age", comparison=cmp("eq", 24)),
            "new": Derived(field="days_since_signup", comparison=cmp("lte", 10)),
            "bday_today": Birthday(within_days=0),
            "bday_soon": Birthday(within_days=1),
            "vip_tag": HasTag(tag="vip"),
            "tags_set": Attribute(field="tags", comparison=cmp("is_set")),
            "sms": Subscription(channel="sms"),
            "in_vip": ManualList(list_name="vip"),
            "bucket_lt_5": Bucket(seed="exp1", modulo=10, comparison=cmp("lt", 5)),
        },
        catalog,
        settings,
        tables,
    )
    assert got["age_24"] == {"a"}
    assert got["new"] == {"a"}
    assert got["bday_today"] == {"a"}
    assert got["bday_soon"] == {"a", "b"}
    assert got["vip_tag"] == got["tags_set"] == {"a"}
    assert got["sms"] == {"a"}
    assert got["in_vip"] == {"b"}
    assert got["bucket_lt_5"] == {c for c in "abc" if bucket_python("exp1", c, 10) < 5}
    assert all("late" not in ids for ids in got.values())


def test_bucket_matches_python_for_many_ids(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    ids = [f"cust-{i}-ž" for i in range(200)]
    tables = make_tables(customers=[customer(c) for c in ids])
    node = Bucket(seed="s:1", modulo=7, comparison=cmp("eq", 3))
    assert evaluate({"b": node}, catalog, settings, tables)["b"] == {
        c for c in ids if bucket_python("s:1", c, 7) == 3
    }


def test_birthday_codes_leap_day() -> None:
    assert 229 in birthday_codes(date(2023, 2, 28), 0)
    assert 229 not in birthday_codes(date(2024, 2, 28), 0)
    assert birthday_codes(date(2024, 12, 31), 1) == [101, 1231]


@pytest.mark.parametrize(
    ("direction", "percent", "expected"),
    [
        ("top", 20, {"i", "j"}),  # n = 10, c = ceil(2) = 2: positions 8, 9
        ("top", 25, {"h", "i", "j"}),  # c = ceil(2.5) = 3
        ("bottom", 10, {"a"}),
        ("bottom", 30.5, {"a", "b", "c", "d"}),  # c = ceil(3.05) = 4
    ],
)
def test_percentiles(
    catalog: Catalog,
    settings: WorkspaceSettings,
    make_tables: MakeTables,
    direction: str,
    percent: float,
    expected: set[str],
) -> None:
    # ten customers with 1..10 orders (j has 10); ties broken by customer_id
    ids = "abcdefghij"
    orders = [order(f"{c}{k}", c, ago(1)) for n, c in enumerate(ids, 1) for k in range(n)]
    tables = make_tables(customers=[customer(c) for c in ids], orders=orders)
    node = Percentile(
        measure=AggregateMeasure(activity=Activity(source="orders")),
        direction=direction,
        percent=percent,
    )  # type: ignore[arg-type]
    got = evaluate({"p": node}, catalog, settings, tables)["p"]
    assert got == expected


def test_recency_and_reference_and_explain(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    tables = make_tables(
        customers=[customer("a", country="CZ"), customer("b", country="CZ")],
        orders=[order("1", "a", ago(3), "12.50"), order("2", "a", ago(9), "1.00")],
    )
    definitions: dict[str, Node] = {
        "czech": Attribute(field="country", comparison=cmp("eq", "CZ")),
        "recent_czech": All(
            items=(
                SegmentRef(segment="czech"),
                Recency(activity=Activity(source="orders"), comparison=cmp("lte", 3)),
                Recency(activity=Activity(source="orders"), which="first", comparison=cmp("eq", 9)),
            )
        ),
    }
    assert evaluate(definitions, catalog, settings, tables)["recent_czech"] == {"a"}
    spend = Aggregate(
        activity=Activity(source="orders"),
        function="sum",
        field="amount",
        comparison=cmp("gte", 10),
    )
    node = All(items=(SegmentRef(segment="czech"), spend))
    expr = compile_explain(node, definitions, catalog, settings, tables, AS_OF, "a")
    assert expr.to_pyarrow().to_pylist() == [
        {
            "/": True,
            "/all/0/segment": True,
            "/all/1/aggregate": True,
            "/all/1/aggregate#value": Decimal("13.50"),
        }
    ]


def test_timestamp_attribute_compares_local_date(catalog: Catalog, make_tables: MakeTables) -> None:
    settings = WorkspaceSettings(timezone="Europe/Prague")
    tables = make_tables(
        customers=[
            customer("a", signup_at=datetime(2024, 3, 31, 22, 30)),  # 1 April 00:30 in Prague
            customer("b", signup_at=datetime(2024, 3, 31, 21, 30)),  # 31 March 23:30
        ]
    )
    got = evaluate(
        {
            "april": Attribute(field="signup_at", comparison=cmp("gte", "2024-04-01")),
            "on_31": Attribute(field="signup_at", comparison=cmp("eq", "2024-03-31")),
        },
        catalog,
        settings,
        tables,
    )
    assert got == {"april": {"a"}, "on_31": {"b"}}
    assert AS_OF.tzinfo is UTC
