"""The official Segment client (`segment-analytics-python`) sends to a local Segmentum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from segment.analytics import Client

from tests.intake.conftest import Live, Shop, query


def test_the_segment_client_sends_identify_order_cart_and_page(shop: Shop, live: Live) -> None:
    errors: list[Exception] = []
    client = Client(
        shop.keys["ingest"],
        host=live.url,
        on_error=lambda e, _: errors.append(e),
        sync_mode=False,
        max_retries=1,
    )
    at = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    client.identify(
        "C1",
        {
            "email": "Jana@Example.com",
            "firstName": "Jana",
            "lastName": "Nová",
            "phone": "+420 601 123 456",
            "birthday": "1990-05-17",
            "address": {"city": "Brno", "country": "Czech Republic"},
            "favouriteColor": "teal",
            "plan": "gold",
        },
        timestamp=at,
        message_id="id-1",
    )
    client.track(
        "C1",
        "Order Completed",
        {
            "order_id": "O-1",
            "total": 45.5,
            "currency": "EUR",
            "affiliation": "web",
            "products": [
                {"product_id": "P1", "price": 20, "quantity": 2},
                {"sku": "P2", "price": 5.5},
            ],
        },
        timestamp=at,
        message_id="ord-1",
    )
    client.track(
        "C2",
        "Product Added",
        {"cart_id": "K1", "product_id": "P1", "price": 20},
        timestamp=at,
        message_id="add-1",
    )
    client.track(
        "C2", "Checkout Started", {"cart_id": "K1", "value": 20}, timestamp=at, message_id="chk-1"
    )
    client.track("C2", "Review Written", {"rating": 5}, timestamp=at, message_id="rev-1")
    client.page(
        "C2",
        name="Home",
        properties={"url": "https://shop.example/"},
        timestamp=at,
        message_id="page-1",
    )
    client.flush()
    client.join()
    assert errors == []
    app = live.app
    assert query(
        app,
        "SELECT customer_id, first_name, last_name, email, phone, birth_date, city, "
        "country, favourite_color FROM customers ORDER BY 1",
    ) == [
        (
            "C1",
            "Jana",
            "Nová",
            "jana@example.com",
            "+420601123456",
            datetime(1990, 5, 17).date(),
            "Brno",
            "CZ",
            "teal",
        ),
        ("C2", None, None, None, None, None, None, None, None),
    ]
    # the client's sentAt is its clock at sending; the server adds the transit time (the clock-
    # skew correction, exact in test_http.py), so times are the given instant plus < 2 s
    at_naive = datetime(2025, 3, 1, 9, 30)
    lag = timedelta(seconds=2)
    orders = query(
        app, "SELECT order_id, customer_id, ordered_at, amount, currency, status, store FROM orders"
    )
    assert [(*row[:2], *row[3:]) for row in orders] == [
        ("O-1", "C1", Decimal("45.50"), "EUR", "completed", "web")
    ]
    assert at_naive <= orders[0][2] < at_naive + lag
    assert query(app, "SELECT * FROM order_items ORDER BY product_id") == [
        ("O-1", "P1", 2, Decimal("20.00")),
        ("O-1", "P2", 1, Decimal("5.50")),
    ]
    events = query(
        app,
        "SELECT event_id, customer_id, type, cart_id, product_id, value, "
        "rating, url, occurred_at FROM events ORDER BY event_id",
    )
    assert [row[:-1] for row in events] == [
        ("add-1", "C2", "cart_updated", "K1", "P1", None, None, None),
        ("chk-1", "C2", "checkout_started", "K1", None, Decimal("20.00"), None, None),
        ("page-1", "C2", "page_view", None, None, None, None, "https://shop.example/"),
        ("rev-1", "C2", "review_written", None, None, None, 5, None),
    ]
    assert all(at_naive <= row[-1] < at_naive + lag for row in events)
    ignored = query(app, "SELECT ignored FROM intake_messages WHERE message_id = 'id-1'")
    assert ignored == [('{"traits": {"plan": "gold"}}',)]
