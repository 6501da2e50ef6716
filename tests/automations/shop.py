"""Helpers: rows straight into a workspace's engine tables (local dates derived here)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from segmentum.service.workspace import Workspace


def naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def local_date(ws: Workspace, instant: datetime) -> Any:
    return instant.astimezone(ZoneInfo(ws.settings.timezone)).date()


def _insert(ws: Workspace, table: str, rows: list[dict[str, Any]]) -> None:
    con = ws.engine.backend.con  # type: ignore[attr-defined]
    data = pa.Table.from_pylist(rows)
    view = f"incoming_{uuid.uuid4().hex[:8]}"
    con.register(view, data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
    finally:
        con.unregister(view)


def add_customer(
    ws: Workspace, customer_id: str, signup_at: datetime | None, **fields: Any
) -> None:
    row: dict[str, Any] = {
        "customer_id": customer_id,
        "signup_at": None if signup_at is None else naive(signup_at),
        "signup_date": None if signup_at is None else local_date(ws, signup_at),
        "first_name": fields.pop("first_name", customer_id.title()),
        "phone": fields.pop("phone", f"+42077700{abs(hash(customer_id)) % 10000:04d}"),
        "email": fields.pop("email", f"{customer_id}@example.com"),
        "timezone": "Europe/Prague",
        "country": "CZ",
        "language": "en",
        "tags": fields.pop("tags", []),
    }
    row.update(fields)
    _insert(ws, "customers", [row])
    _insert(
        ws,
        "subscriptions",
        [
            {"customer_id": customer_id, "channel": channel, "status": "opted_in",
             "changed_at": datetime(2020, 1, 1), "source": "import"}
            for channel in ("sms", "email")
        ],
    )  # fmt: skip


def add_order(
    ws: Workspace, order_id: str, customer_id: str, at: datetime, amount: str = "100.00"
) -> None:
    from decimal import Decimal

    _insert(ws, "orders", [{
        "order_id": order_id, "customer_id": customer_id, "ordered_at": naive(at),
        "local_date": local_date(ws, at), "amount": Decimal(amount), "currency": "EUR",
        "status": "paid",
    }])  # fmt: skip


def add_event(
    ws: Workspace, event_id: str, customer_id: str, event_type: str, at: datetime, **props: Any
) -> None:
    _insert(ws, "events", [{
        "event_id": event_id, "customer_id": customer_id, "type": event_type,
        "occurred_at": naive(at), "local_date": local_date(ws, at),
        "properties": json.dumps(props), **props,
    }])  # fmt: skip


def outbox(directory: Path, channel: str) -> list[dict[str, Any]]:
    path = directory / f"{channel}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def send_on_entering_vip(
    ws: Workspace,
    name: str,
    channel: str,
    template: dict[str, Any],
    customers: list[str],
    created: datetime,
    at: datetime,
) -> None:
    """An automation ``name`` sending ``template`` on ``channel`` to whoever enters ``vip``
    (``has_tag: vip``), created at ``created``; then ``customers`` are tagged vip and touched
    at ``at``, and one worker step runs then."""
    from segmentum.service import automations, realtime

    action = {"type": "send", "channel": channel, "template": template}
    automations.create_automation(
        ws,
        automations.parse_automation(
            {"name": name, "trigger": {"segment": "vip"}, "action": action}
        ),
        now=created,
    )
    con = ws.engine.backend.con  # type: ignore[attr-defined]
    for customer in customers:
        con.execute("UPDATE customers SET tags = ['vip'] WHERE customer_id = ?", [customer])
    realtime.touch(ws, customers, {"customers"}, now=at, effective_at=at)
    automations.worker_step(ws, lambda: at)
