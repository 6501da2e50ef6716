"""Looking at the data: one customer's profile and timeline, and the size of every table.

Every query is an Ibis expression on the workspace's engine; the customer id is a bound
literal, never SQL text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ibis

from segmentum.service.defaults import DEFAULT_TIMELINE_LIMIT
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace

_ORDER_FIELDS = ("order_id", "amount", "currency", "status", "store")
_RETURN_FIELDS = ("return_id", "order_id", "product_id", "quantity", "amount", "reason")


def _utc(value: Any) -> Any:
    """Engines return UTC instants without a zone; say so."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _rows(expr: ibis.Table) -> list[dict[str, Any]]:
    return [
        {key: _utc(value) for key, value in row.items()} for row in expr.to_pyarrow().to_pylist()
    ]


def show_customer(
    ws: Workspace, customer_id: str, limit: int = DEFAULT_TIMELINE_LIMIT
) -> dict[str, Any]:
    """Profile, purchase summary, subscriptions and the newest ``limit`` timeline entries.

    Timeline entries (newest first) are orders with their items, returns and events, each
    with ``at`` and ``kind``; ``timeline_total`` counts them all.
    """
    if limit < 0:
        raise ServiceError("--limit must not be negative")
    key = ibis.literal(customer_id)
    read = ws.tables_named(
        "customers", "orders", "returns", "events", "subscriptions", "order_items", "products"
    )
    customers = read["customers"]
    found = _rows(customers.filter(customers.customer_id == key).limit(1))
    if not found:
        raise ServiceError(f"no customer {customer_id!r}")
    profile = {k: v for k, v in found[0].items() if k != "signup_date"}

    orders = read["orders"]
    order_rows = _rows(
        orders.filter(orders.customer_id == key).order_by([ibis.desc("ordered_at"), "order_id"])
    )
    returns = read["returns"]
    return_rows = _rows(returns.filter(returns.customer_id == key))
    events = read["events"]
    event_rows = _rows(events.filter(events.customer_id == key))
    subscriptions = read["subscriptions"]
    subscription_rows = _rows(
        subscriptions.filter(subscriptions.customer_id == key)
        .select("channel", "status", "changed_at", "source")
        .order_by("channel")
    )

    items_by_order: dict[str, list[dict[str, Any]]] = {}
    if order_rows:
        items = read["order_items"]
        products = read["products"]
        order_ids = [ibis.literal(row["order_id"]) for row in order_rows]
        joined = (
            items.filter(items.order_id.isin(order_ids))
            .left_join(products, items.product_id == products.product_id)
            .select(
                items.order_id,
                items.product_id,
                products["name"],
                products.category,
                items.quantity,
                items.unit_price,
            )
            .order_by(["order_id", "product_id"])
        )
        for item in _rows(joined):
            items_by_order.setdefault(item.pop("order_id"), []).append(item)

    timeline: list[dict[str, Any]] = []
    for row in order_rows:
        entry = {"at": row["ordered_at"], "kind": "order"}
        entry.update({name: row[name] for name in _ORDER_FIELDS})
        entry["items"] = items_by_order.get(row["order_id"], [])
        timeline.append(entry)
    for row in return_rows:
        entry = {"at": row["returned_at"], "kind": "return"}
        entry.update({name: row[name] for name in _RETURN_FIELDS})
        timeline.append(entry)
    for row in event_rows:
        declared = ws.catalog.event_types.get(row["type"])
        names = declared.properties if declared is not None else {}
        timeline.append(
            {
                "at": row["occurred_at"],
                "kind": "event",
                "type": row["type"],
                "event_id": row["event_id"],
                "properties": {
                    name: row[name] for name in sorted(names) if row.get(name) is not None
                },
            }
        )
    timeline.sort(key=lambda entry: (entry["at"], _entry_id(entry)), reverse=True)

    purchases = [row for row in order_rows if row["status"] != "cancelled"]
    summary = {
        "orders": len(purchases),
        "revenue": sum((row["amount"] for row in purchases), start=Decimal("0.00")),
        "first_order_at": min((row["ordered_at"] for row in purchases), default=None),
        "last_order_at": max((row["ordered_at"] for row in purchases), default=None),
        "returns": len(return_rows),
        "events": len(event_rows),
    }
    return {
        "customer_id": customer_id,
        "profile": profile,
        "summary": summary,
        "subscriptions": subscription_rows,
        "timeline_total": len(timeline),
        "timeline": timeline[:limit],
    }


def _entry_id(entry: dict[str, Any]) -> str:
    return str(entry.get("event_id") or entry.get("return_id") or entry.get("order_id") or "")


def table_stats(ws: Workspace) -> list[dict[str, Any]]:
    """Per catalog table: row count and the range of its time column (None if timeless)."""
    rows: list[dict[str, Any]] = []
    read = ws.tables_named(*ws.catalog.tables)
    for table in ws.catalog.tables.values():
        expr = read[table.name]
        if table.time_column is None:
            count = int(expr.count().to_pyarrow().as_py())
            rows.append(
                {
                    "table": table.name,
                    "rows": count,
                    "time_column": None,
                    "first": None,
                    "last": None,
                }
            )
            continue
        column = expr[table.time_column]
        result = _rows(expr.aggregate(rows=expr.count(), first=column.min(), last=column.max()))[0]
        rows.append(
            {
                "table": table.name,
                "rows": int(result["rows"]),
                "time_column": table.time_column,
                "first": result["first"],
                "last": result["last"],
            }
        )
    return rows
