"""`customers show` and `stats` on a tiny hand-imported workspace, exact values."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from segmentum.service.customers import show_customer, table_stats
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace

Cli = Callable[..., tuple[int, str, str]]

EXPECTED_C1 = {
    "customer_id": "C1",
    "profile": {
        "customer_id": "C1",
        "signup_at": "2025-01-05T10:00:00+00:00",
        "first_name": "Jana",
        "last_name": "Nováková",
        "email": "jana@example.cz",
        "phone": "+420601123456",
        "gender": None,
        "birth_date": None,
        "city": None,
        "region": None,
        "country": "CZ",
        "timezone": "Europe/Prague",
        "language": "cs",
        "loyalty_member": None,
        "loyalty_tier": None,
        "lead_stage": None,
        "tags": None,
    },
    "summary": {
        "orders": 1,
        "revenue": "1348.90",
        "first_order_at": "2025-03-01T09:30:00+00:00",
        "last_order_at": "2025-03-01T09:30:00+00:00",
        "returns": 1,
        "events": 2,
    },
    "subscriptions": [
        {
            "channel": "email",
            "status": "opted_in",
            "changed_at": "2025-01-05T10:00:00+00:00",
            "source": "checkout",
        },
        {
            "channel": "sms",
            "status": "opted_out",
            "changed_at": "2025-04-01T00:00:00+00:00",
            "source": "unsubscribe link",
        },
    ],
    "timeline_total": 5,
    "timeline": [
        {
            "at": "2025-06-10T18:00:00+00:00",
            "kind": "order",
            "order_id": "O2",
            "amount": "99.80",
            "currency": "CZK",
            "status": "cancelled",
            "store": "e-shop",
            "items": [
                {
                    "product_id": "P2",
                    "name": "Oat Bars",
                    "category": "food",
                    "quantity": 2,
                    "unit_price": "49.90",
                }
            ],
        },
        {
            "at": "2025-03-10T10:00:00+00:00",
            "kind": "event",
            "type": "survey_response",
            "event_id": "E2",
            "properties": {"csat": 5, "survey_id": "S1"},
        },
        {
            "at": "2025-03-05T12:00:00+00:00",
            "kind": "return",
            "return_id": "R1",
            "order_id": "O1",
            "product_id": "P2",
            "quantity": 1,
            "amount": "49.90",
            "reason": "damaged",
        },
        {
            "at": "2025-03-01T09:30:00+00:00",
            "kind": "order",
            "order_id": "O1",
            "amount": "1348.90",
            "currency": "CZK",
            "status": "completed",
            "store": "e-shop",
            "items": [
                {
                    "product_id": "P1",
                    "name": "Trail Runner",
                    "category": "sport shoes",
                    "quantity": 1,
                    "unit_price": "1299.00",
                },
                {
                    "product_id": "P2",
                    "name": "Oat Bars",
                    "category": "food",
                    "quantity": 1,
                    "unit_price": "49.90",
                },
            ],
        },
        {
            "at": "2025-03-01T09:00:00+00:00",
            "kind": "event",
            "type": "cart_updated",
            "event_id": "E1",
            "properties": {"cart_id": "K1", "value": "1348.90"},
        },
    ],
}


def test_show_customer_returns_profile_subscriptions_and_timeline(tiny: Workspace) -> None:
    document = show_customer(tiny, "C1")
    assert document["summary"]["revenue"] == Decimal("1348.90")
    assert document["timeline"][0]["at"] == datetime(2025, 6, 10, 18, 0, tzinfo=UTC)
    assert [entry["kind"] for entry in document["timeline"]] == [
        "order",
        "event",
        "return",
        "order",
        "event",
    ]


def test_show_customer_limits_the_timeline(tiny: Workspace) -> None:
    document = show_customer(tiny, "C1", limit=2)
    assert document["timeline_total"] == 5
    assert [entry.get("order_id") or entry.get("event_id") for entry in document["timeline"]] == [
        "O2",
        "E2",
    ]


def test_customer_without_activity(tiny: Workspace) -> None:
    document = show_customer(tiny, "C3")
    assert document["summary"] == {
        "orders": 0,
        "revenue": Decimal("0.00"),
        "first_order_at": None,
        "last_order_at": None,
        "returns": 0,
        "events": 0,
    }
    assert document["subscriptions"] == []
    assert document["timeline"] == []


def test_unknown_customer_is_a_service_error(tiny: Workspace) -> None:
    with pytest.raises(ServiceError, match="no customer 'C9'"):
        show_customer(tiny, "C9")


def test_customer_id_is_a_value_not_sql(tiny: Workspace) -> None:
    with pytest.raises(ServiceError, match="no customer"):
        show_customer(tiny, "C1' OR '1'='1")


def test_stats_counts_rows_and_date_ranges(tiny: Workspace) -> None:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    assert table_stats(tiny) == [
        {
            "table": "customers",
            "rows": 3,
            "time_column": "signup_at",
            "first": at("2025-01-05T10:00:00"),
            "last": at("2025-02-02T08:00:00"),
        },
        {"table": "products", "rows": 2, "time_column": None, "first": None, "last": None},
        {
            "table": "orders",
            "rows": 3,
            "time_column": "ordered_at",
            "first": at("2025-03-01T09:30:00"),
            "last": at("2025-06-10T18:00:00"),
        },
        {"table": "order_items", "rows": 4, "time_column": None, "first": None, "last": None},
        {
            "table": "returns",
            "rows": 1,
            "time_column": "returned_at",
            "first": at("2025-03-05T12:00:00"),
            "last": at("2025-03-05T12:00:00"),
        },
        {
            "table": "events",
            "rows": 3,
            "time_column": "occurred_at",
            "first": at("2025-03-01T09:00:00"),
            "last": at("2025-05-01T07:00:00"),
        },
        {
            "table": "subscriptions",
            "rows": 3,
            "time_column": "changed_at",
            "first": at("2025-01-05T10:00:00"),
            "last": at("2025-04-01T00:00:00"),
        },
    ]


def test_stats_on_an_empty_workspace(workspace: Workspace) -> None:
    assert {row["table"]: row["rows"] for row in table_stats(workspace)} == {
        "customers": 0,
        "products": 0,
        "orders": 0,
        "order_items": 0,
        "returns": 0,
        "events": 0,
        "subscriptions": 0,
    }


def test_cli_show_json_is_one_exact_object(tiny: Workspace, cli: Cli) -> None:
    db = str(tiny.engine.path)
    tiny.close()
    code, out, _ = cli("--db", db, "customers", "show", "C1", "--format", "json")
    assert code == 0
    assert out.count("\n") == 1
    assert json.loads(out) == EXPECTED_C1


def test_cli_show_table_and_csv(tiny: Workspace, cli: Cli) -> None:
    db = str(tiny.engine.path)
    tiny.close()
    code, out, _ = cli("--db", db, "customers", "show", "C2")
    assert code == 0
    assert "Иван" in out
    assert "support_ticket" in out
    code, out, _ = cli("--db", db, "customers", "show", "C1", "--format", "csv", "--limit", "2")
    assert code == 0
    assert out.splitlines() == [
        "at,kind,id,details,amount",
        "2025-06-10T18:00:00+00:00,order,O2,cancelled e-shop: 2× Oat Bars,99.80",
        "2025-03-10T10:00:00+00:00,event,E2,survey_response csat=5 survey_id=S1,",
    ]


def test_cli_unknown_customer_exits_1_with_one_line(tiny: Workspace, cli: Cli) -> None:
    db = str(tiny.engine.path)
    tiny.close()
    code, out, err = cli("--db", db, "customers", "show", "nobody")
    assert (code, out, err) == (1, "", "error: no customer 'nobody'\n")


def test_cli_stats_formats(tiny: Workspace, cli: Cli) -> None:
    db = str(tiny.engine.path)
    tiny.close()
    code, out, _ = cli("--db", db, "stats", "--format", "csv")
    assert code == 0
    assert out.splitlines() == [
        "table,rows,time_column,first,last",
        "customers,3,signup_at,2025-01-05T10:00:00+00:00,2025-02-02T08:00:00+00:00",
        "products,2,,,",
        "orders,3,ordered_at,2025-03-01T09:30:00+00:00,2025-06-10T18:00:00+00:00",
        "order_items,4,,,",
        "returns,1,returned_at,2025-03-05T12:00:00+00:00,2025-03-05T12:00:00+00:00",
        "events,3,occurred_at,2025-03-01T09:00:00+00:00,2025-05-01T07:00:00+00:00",
        "subscriptions,3,changed_at,2025-01-05T10:00:00+00:00,2025-04-01T00:00:00+00:00",
    ]
    code, out, _ = cli("--db", db, "stats", "--format", "json")
    assert code == 0
    assert json.loads(out)[0] == {
        "table": "customers",
        "rows": 3,
        "time_column": "signup_at",
        "first": "2025-01-05T10:00:00+00:00",
        "last": "2025-02-02T08:00:00+00:00",
    }
    code, out, _ = cli("--db", db, "stats")
    assert code == 0
    assert "subscriptions" in out
