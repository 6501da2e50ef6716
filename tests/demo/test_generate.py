"""The demo generator alone: determinism, catalog columns, and the shop's shape."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentum.catalog.tables import CORE_TABLES
from segmentum.demo import generate
from segmentum.demo.arrow import source_schema
from segmentum.demo.generate import TABLE_ORDER, ShopConfig, generate_shop, write_shop
from segmentum.demo.shop import demo_catalog
from tests.demo.conftest import END, SMALL


def test_same_seed_and_end_give_identical_tables(shop: dict[str, pa.Table]) -> None:
    again = generate_shop(ShopConfig(end=END, customers=300, seed=42))
    assert list(again) == list(TABLE_ORDER)
    for name in TABLE_ORDER:
        assert again[name].equals(shop[name]), name


def test_another_seed_gives_another_shop(shop: dict[str, pa.Table]) -> None:
    other = generate_shop(ShopConfig(end=END, customers=300, seed=7))
    assert not other["customers"].equals(shop["customers"])
    assert other["products"].num_rows == shop["products"].num_rows == 370


def test_another_end_moves_the_same_shop_in_time(shop: dict[str, pa.Table]) -> None:
    later = generate_shop(ShopConfig(end=END + timedelta(days=1), customers=300, seed=42))
    assert later["orders"].column("order_id").equals(shop["orders"].column("order_id"))
    shifted = [
        (b - a).total_seconds()
        for a, b in zip(
            shop["orders"].column("ordered_at").to_pylist(),
            later["orders"].column("ordered_at").to_pylist(),
            strict=True,
        )
    ]
    assert set(shifted) == {86_400.0}


def test_every_table_has_exactly_the_catalog_columns(shop: dict[str, pa.Table]) -> None:
    catalog = demo_catalog()
    assert set(shop) == {table.name for table in CORE_TABLES}
    for name, table in shop.items():
        assert table.schema == source_schema(catalog.table(name)), name
    orders = shop["orders"].schema
    assert orders.field("amount").type == pa.decimal128(18, 2)
    assert orders.field("ordered_at").type == pa.timestamp("us", tz="UTC")
    assert "local_date" not in orders.names  # derived at import
    customers = shop["customers"].schema
    assert customers.field("tags").type == pa.list_(pa.string())
    assert customers.field("birth_date").type == pa.date32()
    assert customers.field("has_children").type == pa.bool_()
    assert customers.field("clothing_size").type == pa.string()
    assert customers.field("preferred_drive").type == pa.string()
    assert shop["products"].schema.field("gluten_free").type == pa.bool_()
    assert shop["events"].schema.field("csat").type == pa.int64()


def test_row_counts_of_the_small_shop(shop: dict[str, pa.Table]) -> None:
    counts = {name: table.num_rows for name, table in shop.items()}
    assert counts == {
        "products": 370,
        "customers": 300,
        "orders": 2981,
        "order_items": 5012,
        "returns": 166,
        "events": 3021,
        "subscriptions": 482,
    }


def test_about_a_fifth_never_bought(sql: duckdb.DuckDBPyConnection) -> None:
    never = sql.execute(
        "SELECT count(*) FROM customers WHERE customer_id NOT IN "
        "(SELECT customer_id FROM orders WHERE status <> 'cancelled')"
    ).fetchone()
    assert never == (61,)
    # 20% of 300 is 60; the binomial standard deviation is about 7 customers.
    assert 0.2 - 0.05 <= 61 / 300 <= 0.2 + 0.05


def test_heavy_tailed_purchase_counts(sql: duckdb.DuckDBPyConnection) -> None:
    top, median = sql.execute(
        "SELECT max(n), median(n) FROM (SELECT customer_id, count(*) n FROM orders GROUP BY 1)"
    ).fetchone()  # type: ignore[misc]
    assert top > 8 * median


def test_some_carts_are_abandoned_and_some_become_orders(
    sql: duckdb.DuckDBPyConnection,
) -> None:
    abandoned, converted = sql.execute(
        """SELECT count(*) FILTER (WHERE NOT bought), count(*) FILTER (WHERE bought) FROM (
             SELECT e.event_id, EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = e.customer_id
               AND o.ordered_at > e.occurred_at
               AND o.ordered_at <= e.occurred_at + INTERVAL 24 HOUR) AS bought
             FROM events e WHERE e.type = 'cart_updated')"""
    ).fetchone()  # type: ignore[misc]
    assert abandoned >= 1
    assert converted >= 1
    # Carts named after their order were followed by that very order within 24 hours.
    late = sql.execute(
        """SELECT count(*) FROM events e JOIN orders o ON e.cart_id = 'cart-' || o.order_id
           WHERE NOT (o.ordered_at > e.occurred_at
                      AND o.ordered_at <= e.occurred_at + INTERVAL 24 HOUR)"""
    ).fetchone()
    assert late == (0,)


def test_returned_customers_exist(sql: duckdb.DuckDBPyConnection) -> None:
    """A gap of over 150 days between purchases, and buying again in the last 200 days."""
    returned = sql.execute(
        """SELECT count(DISTINCT customer_id) FROM (
             SELECT customer_id, ordered_at,
                    ordered_at - lag(ordered_at) OVER (PARTITION BY customer_id
                                                       ORDER BY ordered_at) AS gap
             FROM orders WHERE status <> 'cancelled')
           WHERE gap > INTERVAL 150 DAY
             AND ordered_at >= TIMESTAMPTZ '2026-11-23 23:00:00+00' - INTERVAL 200 DAY"""
    ).fetchone()
    assert returned is not None
    assert returned[0] >= 5


def test_inquiries_are_sometimes_followed_by_buying_that_product(
    sql: duckdb.DuckDBPyConnection,
) -> None:
    bought, not_bought = sql.execute(
        """SELECT count(*) FILTER (WHERE bought), count(*) FILTER (WHERE NOT bought) FROM (
             SELECT EXISTS (SELECT 1 FROM orders o JOIN order_items i USING (order_id)
               WHERE o.customer_id = e.customer_id AND i.product_id = e.product_id
                 AND o.ordered_at > e.occurred_at) AS bought
             FROM events e WHERE e.type = 'product_inquiry')"""
    ).fetchone()  # type: ignore[misc]
    assert bought >= 1
    assert not_bought >= 1


def test_surveys_have_responders_and_non_responders(sql: duckdb.DuckDBPyConnection) -> None:
    sent, answered, csat_range, nps_range = sql.execute(
        """SELECT (SELECT count(*) FROM events WHERE type = 'survey_sent'),
                  (SELECT count(*) FROM events WHERE type = 'survey_response'),
                  (SELECT [min(csat), max(csat)] FROM events WHERE type = 'survey_response'),
                  (SELECT [min(nps), max(nps)] FROM events WHERE type = 'survey_response')"""
    ).fetchone()  # type: ignore[misc]
    assert (sent, answered) == (333, 131)
    assert csat_range[0] >= 1
    assert csat_range[1] <= 5
    assert nps_range[0] >= 0
    assert nps_range[1] <= 10
    orphans = sql.execute(
        """SELECT count(*) FROM events r WHERE r.type = 'survey_response' AND NOT EXISTS (
             SELECT 1 FROM events s WHERE s.type = 'survey_sent' AND s.survey_id = r.survey_id
               AND s.occurred_at < r.occurred_at)"""
    ).fetchone()
    assert orphans == (0,)


def test_every_event_type_and_json_properties(sql: duckdb.DuckDBPyConnection) -> None:
    types = sql.execute("SELECT DISTINCT type FROM events ORDER BY 1").fetchall()
    assert [t for (t,) in types] == [
        "cart_updated",
        "checkout_started",
        "product_inquiry",
        "support_ticket",
        "survey_response",
        "survey_sent",
    ]
    bad = sql.execute(
        "SELECT count(*) FROM events WHERE NOT json_valid(properties) "
        "OR json_type(properties) <> 'OBJECT'"
    ).fetchone()
    assert bad == (0,)
    mismatched = sql.execute(
        """SELECT count(*) FROM events WHERE type = 'cart_updated' AND (
             json_extract_string(properties, '$.cart_id') <> cart_id
             OR CAST(json_extract_string(properties, '$.value') AS DECIMAL(18,2)) <> value
             OR json_extract(properties, '$.items')::VARCHAR <> items::JSON::VARCHAR)"""
    ).fetchone()
    assert mismatched == (0,)


def test_orders_add_up_and_stay_in_range(sql: duckdb.DuckDBPyConnection) -> None:
    wrong, smallest = sql.execute(
        """SELECT count(*) FILTER (WHERE o.amount <> s.total), min(o.amount) FROM orders o
           JOIN (SELECT order_id, sum(quantity * unit_price) total FROM order_items
                 GROUP BY 1) s USING (order_id)"""
    ).fetchone()  # type: ignore[misc]
    assert wrong == 0
    assert smallest >= 200
    outside = sql.execute(
        """SELECT count(*) FROM orders WHERE ordered_at >= TIMESTAMPTZ '2026-11-23 23:00:00+00'
           OR ordered_at < TIMESTAMPTZ '2026-11-23 23:00:00+00' - INTERVAL 1095 DAY"""
    ).fetchone()
    assert outside == (0,)


def test_references_resolve(sql: duckdb.DuckDBPyConnection) -> None:
    dangling = sql.execute(
        """SELECT
             (SELECT count(*) FROM orders WHERE customer_id NOT IN
                (SELECT customer_id FROM customers)),
             (SELECT count(*) FROM order_items WHERE order_id NOT IN
                (SELECT order_id FROM orders)),
             (SELECT count(*) FROM order_items WHERE product_id NOT IN
                (SELECT product_id FROM products)),
             (SELECT count(*) FROM returns WHERE order_id NOT IN (SELECT order_id FROM orders)),
             (SELECT count(*) FROM events WHERE customer_id NOT IN
                (SELECT customer_id FROM customers)),
             (SELECT count(*) FROM subscriptions WHERE customer_id NOT IN
                (SELECT customer_id FROM customers))"""
    ).fetchone()
    assert dangling == (0, 0, 0, 0, 0, 0)
    duplicates = sql.execute(
        """SELECT (SELECT count(*) - count(DISTINCT (order_id, product_id)) FROM order_items),
                  (SELECT count(*) - count(DISTINCT (customer_id, channel)) FROM subscriptions),
                  (SELECT count(*) - count(DISTINCT event_id) FROM events)"""
    ).fetchone()
    assert duplicates == (0, 0, 0)


def test_product_feed(sql: duckdb.DuckDBPyConnection) -> None:
    shoes = sql.execute(
        "SELECT count(*), min(price), max(price) FROM products WHERE category = 'sport shoes'"
    ).fetchone()
    assert shoes == (60, 300, 1500)
    food = sql.execute(
        """SELECT count(*) FILTER (WHERE category = 'food' AND gluten_free IS NULL),
                  count(*) FILTER (WHERE category <> 'food' AND gluten_free IS NOT NULL),
                  count(*) FILTER (WHERE category = 'food' AND gluten_free),
                  count(*) FILTER (WHERE category = 'clothing' AND body_type IS NULL),
                  count(*) FILTER (WHERE category <> 'clothing' AND body_type IS NOT NULL),
                  count(*) FILTER (WHERE on_promo)
           FROM products"""
    ).fetchone()
    assert food is not None
    assert food[:2] == (0, 0)
    assert food[2] > 0
    assert food[3:5] == (0, 0)
    assert food[5] > 0


def test_customers_look_international(shop: dict[str, pa.Table]) -> None:
    customers = shop["customers"].to_pylist()
    assert {"CZ", "PL", "RU", "SK", "DE"} <= {c["country"] for c in customers}
    assert {"cs", "pl", "ru", "de", "en"} <= {c["language"] for c in customers}
    for customer in customers:
        ZoneInfo(customer["timezone"])
        if customer["phone"] is not None:
            assert phonenumbers.is_valid_number(phonenumbers.parse(customer["phone"]))
        if customer["email"] is not None:
            assert customer["email"].isascii()
    names = " ".join(f"{c['first_name']} {c['last_name']}" for c in customers)
    assert any("\u0400" <= ch <= "\u04ff" for ch in names)  # Cyrillic
    assert any(ch in names for ch in "ěščřžýáíéůňťďłąę")  # diacritics
    zones = {c["timezone"] for c in customers if c["country"] == "RU"}
    assert len(zones) >= 2


def test_profiles_cover_every_stage(sql: duckdb.DuckDBPyConnection) -> None:
    stages = sql.execute("SELECT DISTINCT lead_stage FROM customers ORDER BY 1").fetchall()
    assert [s for (s,) in stages] == ["customer", "new_lead", "qualified_lead"]
    tiers = sql.execute(
        "SELECT DISTINCT loyalty_tier FROM customers WHERE loyalty_member ORDER BY 1"
    ).fetchall()
    assert [t for (t,) in tiers] == ["gold", "silver", "vip"]
    statuses = sql.execute(
        "SELECT DISTINCT channel || ':' || status FROM subscriptions ORDER BY 1"
    ).fetchall()
    assert {"email:pending", "sms:opted_out", "web_push:opted_in"} <= {s for (s,) in statuses}
    end_day = date(2026, 11, 23)
    birthdays = sql.execute(
        """SELECT count(*) FROM customers WHERE birth_date IS NOT NULL AND
             date_diff('day', ?::DATE, make_date(year(?::DATE), month(birth_date),
               least(day(birth_date), 28))) BETWEEN 1 AND 7""",
        [end_day, end_day],
    ).fetchone()
    assert birthdays is not None
    assert birthdays[0] >= 1
    tagged = sql.execute("SELECT count(*) FROM customers WHERE len(tags) > 0").fetchone()
    assert tagged is not None
    assert tagged[0] > 0


def test_order_target_is_met_closely() -> None:
    tables = generate_shop(ShopConfig(end=END, customers=1000, orders=5000, seed=3))
    assert abs(tables["orders"].num_rows - 5000) <= 100


def test_ids_stay_unique_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "CHUNK_CUSTOMERS", 70)
    tables = generate_shop(ShopConfig(end=END, customers=300, seed=42))
    for name, key in (
        ("customers", "customer_id"),
        ("orders", "order_id"),
        ("returns", "return_id"),
        ("events", "event_id"),
    ):
        column = tables[name].column(key)
        assert len(column) == len(set(column.to_pylist())), name
    assert tables["customers"].num_rows == 300


def test_write_shop_writes_the_same_tables(tmp_path: Path, shop: dict[str, pa.Table]) -> None:
    seen: list[tuple[int, int]] = []
    paths = write_shop(SMALL, tmp_path / "out", lambda done, total: seen.append((done, total)))
    assert {name: path.name for name, path in paths.items()} == {
        name: f"{name}.parquet" for name in TABLE_ORDER
    }
    for name, path in paths.items():
        assert pq.read_table(path).equals(shop[name]), name
    assert seen == [(300, 300)]


def test_invalid_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="customers"):
        ShopConfig(end=END, customers=0)
    with pytest.raises(ValueError, match="orders"):
        ShopConfig(end=END, customers=10, orders=-1)
