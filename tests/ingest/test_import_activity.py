from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentum.ingest.importer import ImportOptions
from segmentum.service.imports import import_file
from segmentum.service.workspace import Workspace
from tests.ingest.conftest import rows


@pytest.fixture
def customers(workspace: Workspace, write) -> Workspace:
    path = write("customers.csv", "customer_id\nc1\nc2\n")
    import_file(workspace, "customers", path, ImportOptions())
    return workspace


def _rejects(ws: Workspace, table: str) -> set[tuple[int, str]]:
    found = rows(ws, f"SELECT row_number, reasons FROM quarantine WHERE table_name = '{table}'")
    return {(int(row), str(reasons)) for row, reasons in found}


def test_orders_money_currency_time_and_customers(customers: Workspace, write) -> None:
    ws = customers
    ws.update_settings(ws.settings.model_copy(update={"timezone": "Europe/Prague"}))
    path = write(
        "orders.csv",
        "order_id,customer_id,ordered_at,amount,currency,status\n"
        "o1,c1,2024-06-30 23:30,123.45,,paid\n"  # zone-less: Prague time
        "o2,c1,2024-06-30T22:30:00Z,0,EUR,paid\n"  # amount 0 is valid
        "o3,c2,2024-01-01,100,CZK,paid\n"  # converted with --rates
        "o4,c2,2024-01-01,-5,USD,paid\n"
        "o5,zz,2024-01-01,1,,paid\n"
        "o6,c1,yesterday,abc,,paid\n"
        "o1,c1,2024-01-01,1,,paid\n",
    )
    summary = import_file(ws, "orders", path, ImportOptions(rates={"CZK": Decimal("0.04")}))
    assert (summary.loaded, summary.rejected) == (3, 4)
    assert _rejects(ws, "orders") == {
        (4, "negative_amount;unknown_currency"),
        (5, "unknown_customer"),
        (6, "bad_date;bad_number"),
        (7, "duplicate_key_in_file"),
    }
    assert rows(
        ws, "SELECT order_id, ordered_at, local_date, amount, currency FROM orders ORDER BY 1"
    ) == [
        ("o1", dt.datetime(2024, 6, 30, 21, 30), dt.date(2024, 6, 30), Decimal("123.45"), None),
        ("o2", dt.datetime(2024, 6, 30, 22, 30), dt.date(2024, 7, 1), Decimal("0.00"), "EUR"),
        ("o3", dt.datetime(2023, 12, 31, 23, 0), dt.date(2024, 1, 1), Decimal("4.00"), "CZK"),
    ]
    ws.update_settings(ws.settings.model_copy(update={"timezone": "UTC"}))
    assert rows(ws, "SELECT local_date FROM orders ORDER BY order_id") == [
        (dt.date(2024, 6, 30),),
        (dt.date(2024, 6, 30),),
        (dt.date(2023, 12, 31),),
    ]


def test_timezone_option_and_date_format(customers: Workspace, write) -> None:
    path = write("o.csv", "order_id,customer_id,ordered_at,amount\no1,c1,01.02.2024 10:00,5\n")
    options = ImportOptions(timezone="Asia/Tokyo", date_format="%d.%m.%Y %H:%M")
    assert import_file(customers, "orders", path, options).loaded == 1
    assert rows(customers, "SELECT ordered_at, local_date FROM orders") == [
        (dt.datetime(2024, 2, 1, 1, 0), dt.date(2024, 2, 1))
    ]


def test_create_customers_makes_bare_profiles(customers: Workspace, write) -> None:
    path = write("e.csv", "event_id,customer_id,type,occurred_at\ne1,new1,page_view,2024-01-01\n")
    summary = import_file(customers, "events", path, ImportOptions(create_customers=True))
    assert summary.loaded == 1
    assert rows(customers, "SELECT customer_id, email FROM customers ORDER BY 1") == [
        ("c1", None),
        ("c2", None),
        ("new1", None),
    ]


def test_events_types_and_typed_properties(customers: Workspace, write) -> None:
    ws = customers
    path = write(
        "events.csv",
        "event_id,customer_id,type,occurred_at,properties,csat\n"
        'e1,c1,survey_response,2024-01-01,"{""survey_id"": ""s1"", ""nps"": 9}",4\n'
        'e2,c1,page_view,2024-01-01,"{""url"": ""/x"", ""nps"": 3}",\n'
        "e3,c2,teleported,2024-01-01,,\n"
        'e4,c2,survey_response,2024-01-01,"{""nps"": ""nine""}",\n'
        "e5,c2,page_view,2024-01-01,[1],\n"
        "e1,c1,page_view,2024-01-02,,\n",
    )
    summary = import_file(ws, "events", path, ImportOptions())
    assert summary.loaded == 2
    assert _rejects(ws, "events") == {
        (3, "unknown_event_type"),
        (4, "bad_number"),
        (5, "bad_json"),
        (6, "duplicate_key_in_file"),
    }
    assert rows(ws, "SELECT event_id, survey_id, nps, csat, url FROM events ORDER BY 1") == [
        ("e1", "s1", 9, 4, None),
        ("e2", None, None, None, "/x"),
    ]
    properties = rows(ws, "SELECT properties FROM events WHERE event_id='e1'")[0][0]
    # DuckDB returns JSON as text, psycopg as the decoded object
    assert (json.loads(properties) if isinstance(properties, str) else properties) == {
        "survey_id": "s1",
        "nps": 9,
    }


def test_old_subscription_file_never_overrides_newer_opt_out(customers: Workspace, write) -> None:
    ws = customers
    old = write(
        "old.csv",
        "customer_id,channel,status,changed_at\nc1,sms,opted_in,2024-01-01\nc2,email,opted_in,2024-01-01\n",
    )
    new = write(
        "new.csv",
        "customer_id,channel,status,changed_at\n"
        "c1,sms,opted_in,2024-02-01\nc1,SMS,opted_out,2024-03-01\n"
        "c2,fax,opted_in,2024-01-01\nc2,email,maybe,2024-01-01\n",
    )
    summary = import_file(ws, "subscriptions", new, ImportOptions())
    assert (summary.loaded, summary.unchanged, summary.rejected) == (1, 1, 2)
    assert _rejects(ws, "subscriptions") == {(3, "unknown_channel"), (4, "unknown_status")}
    summary = import_file(ws, "subscriptions", old, ImportOptions())
    assert (summary.loaded, summary.updated, summary.unchanged) == (1, 0, 1)
    assert rows(ws, "SELECT customer_id, channel, status FROM subscriptions ORDER BY 1") == [
        ("c1", "sms", "opted_out"),
        ("c2", "email", "opted_in"),
    ]


def test_parquet_and_jsonl(customers: Workspace, tmp_path: Path) -> None:
    ws = customers
    table = pa.table(
        {
            "order_id": ["p1", "p2"],
            "customer_id": ["c1", "c2"],
            "ordered_at": pa.array([dt.datetime(2024, 5, 1, 12), dt.datetime(2024, 5, 2)]),
            "amount": pa.array([Decimal("10.50"), Decimal("0.00")], pa.decimal128(18, 2)),
        }
    )
    pq.write_table(table, tmp_path / "orders.parquet")
    summary = import_file(ws, "orders", tmp_path / "orders.parquet", ImportOptions())
    assert (summary.loaded, summary.rejected) == (2, 0)
    lines = [
        {
            "order_id": "j1",
            "customer_id": "c1",
            "ordered_at": "2024-05-03T10:00:00Z",
            "amount": 7.25,
        },
        {"order_id": "j2", "customer_id": "c1", "ordered_at": "2024-05-03", "amount": -1},
    ]
    (tmp_path / "orders.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    summary = import_file(ws, "orders", tmp_path / "orders.jsonl", ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (1, {"negative_amount": 1})
    assert rows(ws, "SELECT order_id, amount FROM orders ORDER BY 1") == [
        ("j1", Decimal("7.25")),
        ("p1", Decimal("10.50")),
        ("p2", Decimal("0.00")),
    ]


def test_order_items_and_products(customers: Workspace, write) -> None:
    products = write("p.csv", "product_id,name,price,on_promo\np1,Kůň,10,1\np2,X,-1,no\n")
    summary = import_file(customers, "products", products, ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (1, {"negative_amount": 1})
    orders = write("o.csv", "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,10\n")
    assert import_file(customers, "orders", orders, ImportOptions()).loaded == 1
    items = write(
        "i.csv", "order_id,product_id,quantity,unit_price\no1,p1,2,5\no1,p1,1,5\no1,p2,-1,5\n"
    )
    summary = import_file(customers, "order_items", items, ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (
        1,
        {"bad_number": 1, "duplicate_key_in_file": 1},
    )
