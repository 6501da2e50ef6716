"""A hand-built campaign scenario with known sends, holdout, receipts, clicks and purchases,
and a pure-Python oracle that computes every report column from the same raw facts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from segmentum.service import campaigns as campaign_service
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    load_subscriptions,
    outbox_settings,
    tag_segments,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class Order:
    order_id: str
    customer_id: str
    at: datetime
    amount: Decimal
    status: str = "completed"


@dataclass
class Scenario:
    campaign_id: str
    people: list[dict[str, Any]]
    orders: list[Order] = field(default_factory=list)
    clicks: dict[str, datetime] = field(default_factory=dict)
    unsubscribed: set[str] = field(default_factory=set)


def load_orders(ws: Workspace, orders: list[Order]) -> None:
    data = pa.table(
        {
            "order_id": [o.order_id for o in orders],
            "customer_id": [o.customer_id for o in orders],
            "ordered_at": pa.array([o.at.replace(tzinfo=None) for o in orders], pa.timestamp("us")),
            "amount": pa.array([o.amount for o in orders], pa.decimal128(18, 2)),
            "status": [o.status for o in orders],
            "local_date": pa.array([o.at.date() for o in orders], pa.date32()),
        }
    )
    con = ws.engine.backend.con  # type: ignore[attr-defined]
    con.register("incoming_orders", data)
    con.execute("INSERT INTO orders BY NAME SELECT * FROM incoming_orders")
    con.unregister("incoming_orders")


def load_events(ws: Workspace, rows: list[dict[str, Any]]) -> None:
    data = pa.table(
        {
            "event_id": [r["event_id"] for r in rows],
            "customer_id": [r["customer_id"] for r in rows],
            "type": [r["type"] for r in rows],
            "occurred_at": pa.array(
                [r["at"].replace(tzinfo=None) for r in rows], pa.timestamp("us")
            ),
            "local_date": pa.array([r["at"].date() for r in rows], pa.date32()),
            "campaign_id": [r["campaign_id"] for r in rows],
            "channel": ["sms"] * len(rows),
        }
    )
    con = ws.engine.backend.con  # type: ignore[attr-defined]
    con.register("incoming_events", data)
    con.execute("INSERT INTO events BY NAME SELECT * FROM incoming_events")
    con.unregister("incoming_events")


CAMPAIGN = {
    "name": "spring",
    "channel": "sms",
    "segments": [
        {
            "segment": "vip",
            "holdout_pct": 30,
            "variants": [
                {"name": "a", "split": 50, "template": {"body": "VIP A {{ first_name }}"}},
                {"name": "b", "split": 50, "template": {"body": "VIP B {{ first_name }}"}},
            ],
        },
        {"segment": "regular", "holdout_pct": 30},
    ],
    "default_template": {"body": "Spring sale https://shop.example/sale"},
    "generic_pct": 25,
    "goal": {"type": "purchase", "within_days": 7},
}


def build(ws: Workspace, tmp: str) -> Scenario:
    """60 customers: 0-29 vip, 30-55 regular, 56-57 vip without consent, 58 vip without a
    phone, 59 in no segment. Sent at T0; every 5th sent message fails by receipt, the others
    are delivered; purchases, clicks and an unsubscribe follow fixed rules by index."""
    rows = [customer(i, ["vip"]) for i in range(30)]
    rows += [customer(i, ["regular"]) for i in range(30, 56)]
    rows += [customer(56, ["vip"]), customer(57, ["vip"]), customer(58, ["vip"], phone=None)]
    rows += [customer(59, [])]
    load_customers(ws, rows)
    consenting = [f"C{i:04d}" for i in range(60) if i not in (56, 57)]
    load_subscriptions(ws, [(cid, "sms", "opted_in") for cid in consenting])
    tag_segments(ws, "vip", "regular")
    outbox_settings(ws, tmp, sms_pricing={"sender_id": "SHOP", "price_per_segment": "0.05"})
    campaign_service.create_campaign(ws, campaign_service.parse_campaign(CAMPAIGN))
    campaign_service.send(ws, "spring", now=T0)
    campaign_service.run_worker(ws, until_idle=True, clock=lambda: T0)
    ledger = ws.store.query(
        "SELECT l.customer_id, l.message_key, l.status, l.reason, l.sms_segments, l.cost, "
        "a.segment, a.variant, a.generic, a.held_out, a.eligible FROM send_ledger l "
        "JOIN campaign_audience a USING (campaign_id, occurrence, customer_id) "
        "ORDER BY l.customer_id"
    )
    sent = [row for row in ledger if row["status"] == "sent"]
    for position, row in enumerate(sent):
        outcome = "failed" if position % 5 == 4 else "delivered"
        campaign_service.record_receipt(ws, row["message_key"], outcome, outcome.upper(), T0)
    people = ws.store.query(
        "SELECT l.customer_id, l.status, l.reason, l.sms_segments, l.cost, l.sent_at, "
        "a.segment, a.variant, a.generic, a.held_out, a.eligible FROM send_ledger l "
        "JOIN campaign_audience a USING (campaign_id, occurrence, customer_id) "
        "ORDER BY l.customer_id"
    )
    scenario = Scenario("spring", people)
    for row in people:
        cid = row["customer_id"]
        i = int(cid[1:])
        if i % 3 == 0:
            scenario.orders.append(Order(f"O{i}a", cid, T0 + 2 * DAY, Decimal(10 + i)))
        if i % 7 == 0:
            scenario.orders.append(Order(f"O{i}b", cid, T0 + 8 * DAY, Decimal(100)))
        if i % 11 == 0:
            scenario.orders.append(Order(f"O{i}c", cid, T0 - DAY, Decimal(50)))
        if i % 5 == 1:
            scenario.orders.append(
                Order(f"O{i}d", cid, T0 + 7 * DAY - timedelta(minutes=1), Decimal("5.50"))
            )
        if i in (4, 10):
            scenario.orders.append(Order(f"O{i}x", cid, T0 + DAY, Decimal(999), "cancelled"))
        if i % 4 == 0:
            scenario.clicks[cid] = T0 + timedelta(hours=1)
        if i == 8:
            scenario.unsubscribed.add(cid)
    load_orders(ws, scenario.orders)
    events = [
        {"event_id": f"k{cid}", "customer_id": cid, "type": "message_clicked", "at": at,
         "campaign_id": "spring"}
        for cid, at in scenario.clicks.items()
    ] + [
        {"event_id": f"u{cid}", "customer_id": cid, "type": "message_unsubscribed",
         "at": T0 + 3 * DAY, "campaign_id": "spring"}
        for cid in scenario.unsubscribed
    ] + [  # another campaign's click never counts
        {"event_id": "other", "customer_id": "C0001", "type": "message_clicked",
         "at": T0 + DAY, "campaign_id": "autumn"}
    ]  # fmt: skip
    load_events(ws, events)
    return scenario


def oracle(scenario: Scenario) -> dict[tuple[str, str], dict[str, Any]]:
    """Every count and sum of the report, per (segment, arm), (segment, *), (*, generic) and
    (*, *), computed from the raw facts in plain Python."""
    window_end = T0 + 7 * DAY
    by_customer: dict[str, list[Order]] = defaultdict(list)
    for order in scenario.orders:
        by_customer[order.customer_id].append(order)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for person in scenario.people:
        arm = "generic" if person["generic"] else person["variant"]
        for key in ((person["segment"], arm), (person["segment"], "*"), ("*", "*")):
            groups[key].append(person)
        if arm == "generic":
            groups[("*", "generic")].append(person)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, members in groups.items():
        row: dict[str, Any] = defaultdict(int)
        revenues_t: list[float] = []
        revenues_h: list[float] = []
        for p in members:
            cid = p["customer_id"]
            treated = p["eligible"] and not p["held_out"]
            goal = [o for o in by_customer[cid]
                    if o.status != "cancelled" and T0 <= o.at < window_end]  # fmt: skip
            revenue = sum((o.amount for o in goal), Decimal(0))
            row["audience"] += 1
            row["eligible"] += bool(p["eligible"])
            row["held_out"] += bool(p["held_out"])
            row["treated"] += treated
            row["sent"] += p["status"] in ("sent", "delivered", "failed") and bool(p["sent_at"])
            row["delivered"] += p["status"] == "delivered"
            row["failed"] += p["status"] == "failed"
            row["skipped"] += p["status"] == "skipped" and p["reason"] != "held_out"
            for reason in ("no_address", "no_consent"):
                row[f"skipped_{reason}"] += p["status"] == "skipped" and p["reason"] == reason
            row["sms_segments"] += p["sms_segments"] or 0
            row["cost"] += p["cost"] or Decimal(0)
            if treated:
                row["clicked"] += cid in scenario.clicks
                row["unsubscribed"] += cid in scenario.unsubscribed
                row["converted"] += bool(goal)
                row["revenue"] += revenue
                revenues_t.append(float(revenue))
                if p["status"] == "delivered":
                    row["attributed_orders"] += len(goal)
                    row["attributed_revenue"] += revenue
            if p["held_out"]:
                row["holdout_converted"] += bool(goal)
                revenues_h.append(float(revenue))
        row["revenues_treated"] = revenues_t
        row["revenues_holdout"] = revenues_h
        out[key] = dict(row)
    return out
