"""Order items must name a stored order; others are rejected `unknown_order`.

Runs on DuckDB and PostgreSQL (the ``workspace`` fixture): on PostgreSQL the file's distinct
order ids are looked up there, set-based, like the customers of orders.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from segmentum.service.imports import ImportOptions, import_file
from segmentum.service.intake import Submission, process
from segmentum.service.workspace import Workspace
from tests.ingest.conftest import rows

ITEMS_HEADER = "order_id,product_id,quantity,unit_price\n"


@pytest.fixture
def shop(workspace: Workspace, write: Any) -> Workspace:
    """Customer c1 with orders O1, O2 and Ž-O; order O3 of an unknown customer is rejected."""
    import_file(workspace, "customers", write("c.csv", "customer_id\nc1\n"), ImportOptions())
    orders = write(
        "o.csv",
        "order_id,customer_id,ordered_at,amount\n"
        "O1,c1,2025-01-01,10\nO2,c1,2025-01-02,20\nŽ-O,c1,2025-01-03,30\nO3,nobody,2025-01-04,5\n",
    )
    summary = import_file(workspace, "orders", orders, ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (3, {"unknown_customer": 1})
    return workspace


def import_one_row(ws: Workspace, write: Any, table: str, text: str, reasons: str) -> None:
    """Import a file of one row into ``table``: loaded when ``reasons`` is empty, else
    rejected with exactly those (``;``-separated)."""
    summary = import_file(ws, table, write(f"{table}.csv", text + "\n"), ImportOptions())
    assert (summary.loaded, summary.rejected) == ((0, 1) if reasons else (1, 0))
    assert summary.rejected_by_reason == (dict.fromkeys(reasons.split(";"), 1) if reasons else {})


def items(ws: Workspace) -> list[tuple[Any, ...]]:
    return rows(
        ws, "SELECT order_id, product_id, quantity, unit_price FROM order_items ORDER BY 1, 2"
    )


def quarantined(ws: Workspace) -> list[tuple[Any, ...]]:
    return rows(
        ws,
        "SELECT row_number, reasons FROM quarantine WHERE table_name = 'order_items' "
        "ORDER BY row_number",
    )


@pytest.mark.parametrize(
    ("line", "reasons"),
    [
        ("O1,P1,1,10", ""),
        ("O9,P1,1,10", "unknown_order"),
        ("o1,P1,1,10", "unknown_order"),  # ids are exact: o1 is not O1
        ("O3,P1,1,10", "unknown_order"),  # its order was rejected by its own import
        (",P1,1,10", "missing_required"),  # no order id: missing, not unknown
        ("O9,P1,-1,10", "bad_number;unknown_order"),  # every reason is listed
        (unicodedata.normalize("NFD", "Ž-O") + ",P1,1,10", ""),  # the NFC id is the order's
    ],
)
def test_an_item_of_an_order_that_is_not_stored_is_rejected(
    shop: Workspace, write: Any, line: str, reasons: str
) -> None:
    import_one_row(shop, write, "order_items", ITEMS_HEADER + line, reasons)
    assert quarantined(shop) == ([(1, reasons)] if reasons else [])
    assert len(items(shop)) == (0 if reasons else 1)


def test_a_mixed_items_file_loads_the_items_of_stored_orders_only(
    shop: Workspace, write: Any
) -> None:
    path = write(
        "i.csv",
        ITEMS_HEADER + "O1,P1,1,10\n"  # 1
        "O9,P1,1,10\n"  # 2 unknown order
        "O2,P1,2,5\n"  # 3
        "O9,P1,1,10\n"  # 4 the same unknown item again
        "O1,P2,3,1.5\n"  # 5
        "O8,P2,1,1\n",  # 6 unknown order
    )
    summary = import_file(shop, "order_items", path, ImportOptions(create_customers=True))
    assert (summary.loaded, summary.updated, summary.unchanged, summary.rejected) == (3, 0, 0, 3)
    assert summary.rejected_by_reason == {"duplicate_key_in_file": 1, "unknown_order": 3}
    assert quarantined(shop) == [
        (2, "unknown_order"),
        (4, "duplicate_key_in_file;unknown_order"),
        (6, "unknown_order"),
    ]
    assert items(shop) == [
        ("O1", "P1", 1, Decimal("10.00")),
        ("O1", "P2", 3, Decimal("1.50")),
        ("O2", "P1", 2, Decimal("5.00")),
    ]
    # nothing lost: once the orders are stored, the rejects file re-imports as it is
    orders = write("o9.csv", "order_id,customer_id,ordered_at,amount\nO9,c1,2025-02-01,1\n"
                   "O8,c1,2025-02-01,1\n")  # fmt: skip
    assert import_file(shop, "orders", orders, ImportOptions()).loaded == 2
    again = import_file(shop, "order_items", Path(str(path) + ".rejected.csv"), ImportOptions())
    assert (again.loaded, again.rejected_by_reason) == (2, {"duplicate_key_in_file": 1})
    # the rejects file of a rejects file keeps the earlier row number and reasons, renamed
    assert Path(str(path) + ".rejected.csv.rejected.csv").read_text().splitlines() == [
        '"row_number","reasons","source_row_number","source_reasons","order_id","product_id",'
        '"quantity","unit_price"',
        '2,"duplicate_key_in_file","4","duplicate_key_in_file;unknown_order","O9","P1","1","10"',
    ]
    assert items(shop)[-2:] == [("O8", "P2", 1, Decimal("1.00")), ("O9", "P1", 1, Decimal("10.00"))]


def test_items_of_orders_when_no_order_is_stored(workspace: Workspace, write: Any) -> None:
    path = write("i.csv", ITEMS_HEADER + "O1,P1,1,10\nO2,P1,1,10\n")
    summary = import_file(workspace, "order_items", path, ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (0, {"unknown_order": 2})
    assert items(workspace) == []


# --- the intake: an order's items come in the same message as the order ---------------------------


def test_intake_stores_the_items_of_the_order_of_the_same_message(tmp_path: Path) -> None:
    ws = Workspace.open(str(tmp_path / "intake.duckdb"))
    try:
        message = {
            "type": "track",
            "userId": "c1",
            "messageId": "m1",
            "event": "Order Completed",
            "properties": {
                "order_id": "W1",
                "total": 25,
                "products": [{"product_id": "P1", "quantity": 2, "price": 10},
                             {"product_id": "P2", "price": 5}],
            },
        }  # fmt: skip
        received = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
        reports, _ = process(ws, [Submission([message], received, None)])
        assert [(ack.accepted, ack.reasons) for ack in reports[0].acks] == [(True, ())]
        assert rows(ws, "SELECT order_id, customer_id, amount FROM orders") == [
            ("W1", "c1", Decimal("25.00"))
        ]
        assert items(ws) == [("W1", "P1", 2, Decimal("10.00")), ("W1", "P2", 1, Decimal("5.00"))]
    finally:
        ws.close()


# --- returns: an order is optional, and must be stored when given -----------------------------

RETURNS_HEADER = "return_id,order_id,customer_id,returned_at,amount\n"


@pytest.mark.parametrize(
    ("line", "reasons"),
    [
        ("R1,O1,c1,2025-01-05,10", ""),
        ("R1,,c1,2025-01-05,10", ""),  # no order named: nothing to check
        ("R1,O9,c1,2025-01-05,10", "unknown_order"),
        ("R1,O3,c1,2025-01-05,10", "unknown_order"),  # its order was rejected by its import
        ("R1,O9,nobody,2025-01-05,10", "unknown_customer;unknown_order"),
    ],
)
def test_a_return_of_an_order_that_is_not_stored_is_rejected(
    shop: Workspace, write: Any, line: str, reasons: str
) -> None:
    import_one_row(shop, write, "returns", RETURNS_HEADER + line, reasons)
    stored = rows(shop, "SELECT return_id, order_id, customer_id FROM returns")
    expected_order = line.split(",")[1] or None
    assert stored == ([] if reasons else [("R1", expected_order, "c1")])
