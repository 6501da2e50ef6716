"""Consent and privacy use cases: the gate's inputs, STOP replies, unsubscribes and bounces,
and the GDPR commands (forget, export).

Consent lives in the data engine's ``subscriptions`` table (newest ``changed_at`` wins); the
suppression list (hashed addresses) lives in the app store. Erasure decisions (documented in
docs/campaigns.md): the customer row, their subscriptions, events and manual-list entries are
deleted; orders and returns are kept for revenue figures under a random token instead of the
customer id (order items carry no customer); in the app store the ledger's address and message
text are nulled and its, the audience snapshots' and the membership tables' customer ids become
the same token. The customer's hashed addresses are added to the suppression list (reason
``erased``) so that a later re-import of an old file cannot message them again.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ibis
import pyarrow as pa

from segmentum.campaigns.policy import address_hash, recheck
from segmentum.engine.connection import EngineKind
from segmentum.service.clock import now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.realtime import erase_item_owner
from segmentum.service.workspace import Workspace
from segmentum.store import campaigns as campaign_store
from segmentum.store.campaigns import naive

#: Inbound SMS replies that opt out (compared after trimming, case- and accent-folding).
STOP_KEYWORDS = frozenset(
    {
        "stop", "stopp", "stopall", "unsubscribe", "cancel", "end", "quit", "optout",
        "стоп", "отписаться", "odhlasit", "odhlásit", "odhlasit sa", "nie", "ne", "nein",
        "abmelden", "arret", "arrêt", "basta", "baja", "alto", "sair", "stoppen", "afmelden",
        "wypisz", "leiratkozas", "leiratkozás", "отписка", "стоп смс",
    }
)  # fmt: skip


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


_FOLDED_KEYWORDS = frozenset(_fold(keyword) for keyword in STOP_KEYWORDS)


def is_stop(text: str) -> bool:
    folded = _fold(text).strip(".!")
    return folded in _FOLDED_KEYWORDS


def subscriptions_arrow(ws: Workspace, channel: str) -> pa.Table:
    """Every consent row for ``channel`` (the gate takes the newest per customer)."""
    subscriptions = ws.table("subscriptions")
    expr = subscriptions.filter(subscriptions.channel == ibis.literal(channel)).select(
        "customer_id", "channel", "status", "changed_at"
    )
    return expr.to_pyarrow()


def delivery_refusals(ws: Workspace) -> Callable[[pa.Table], pa.Table]:
    """The worker's consent check at delivery: for claimed messages (``message_key``,
    ``customer_id``, ``channel``, ``recipient``), those that may no longer go out and why
    (``policy.recheck`` over the current consent rows and suppression list). Called under the
    worker's store lock, once per claimed batch: one query of the batch's customers' consent
    rows, one of its addresses' suppression entries."""

    def refusals(claimed: pa.Table) -> pa.Table:
        if claimed.num_rows == 0:
            return recheck(claimed, None, None)
        ids = sorted(set(claimed.column("customer_id").to_pylist()))
        channels = sorted(set(claimed.column("channel").to_pylist()))
        wanted = ibis.memtable(pa.table({"_id": pa.array(ids, pa.string())}))
        subscriptions = ws.table("subscriptions")
        rows = subscriptions.filter(subscriptions.channel.isin(channels)).semi_join(
            wanted, subscriptions.customer_id == wanted._id
        )
        consent = rows.select("customer_id", "channel", "status", "changed_at").to_pyarrow()
        recipients = [r for r in claimed.column("recipient").to_pylist() if r]
        hashes = sorted({address_hash(str(r)) for r in recipients})
        return recheck(claimed, consent, campaign_store.suppression_hashes(ws.store, hashes))

    return refusals


def _set_status(
    ws: Workspace, customer_ids: list[str], channel: str, status: str, at: datetime, source: str
) -> int:
    """Write a newer consent row (one per customer and channel; an older row is replaced)."""
    if not customer_ids:
        return 0
    if ws.engine.kind is EngineKind.PYSPARK:
        raise ServiceError("consent changes need a DuckDB or PostgreSQL data engine")
    stamp = naive(at)
    placeholders = ", ".join("?" if ws.engine.kind is EngineKind.DUCKDB else "%s"
                             for _ in customer_ids)  # fmt: skip
    mark = "?" if ws.engine.kind is EngineKind.DUCKDB else "%s"
    ws.engine.raw_sql(
        f"DELETE FROM subscriptions WHERE channel = {mark} AND changed_at <= {mark} "
        f"AND customer_id IN ({placeholders})",
        (channel, stamp, *customer_ids),
    )
    for customer_id in customer_ids:
        ws.engine.raw_sql(
            f"INSERT INTO subscriptions (customer_id, channel, status, changed_at, source) "
            f"SELECT {mark}, {mark}, {mark}, {mark}, {mark} WHERE NOT EXISTS (SELECT 1 FROM "
            f"subscriptions WHERE customer_id = {mark} AND channel = {mark})",
            (customer_id, channel, status, stamp, source, customer_id, channel),
        )
    return len(customer_ids)


def _customers_with(ws: Workspace, column: str, value: str) -> list[str]:
    """Customers whose ``column`` holds ``value``; e-mail addresses compare case-insensitively
    (as the suppression list's hash does)."""
    customers = ws.table("customers")
    if column == "email":
        match = customers[column].strip().lower() == ibis.literal(value.strip().lower())
    else:
        match = customers[column] == ibis.literal(value)
    expr = customers.filter(match).select("customer_id")
    return [str(v) for v in expr.to_pyarrow().column(0).to_pylist()]


def inbound_reply(
    ws: Workspace, phone: str, text: str, at: datetime | None = None
) -> dict[str, Any]:
    """An inbound SMS: a STOP keyword opts out every customer with that phone on sms and
    suppresses the hashed number. ``confirm`` is true only for the first STOP from a number
    (at most one confirmation)."""
    at = at or now_utc()
    if not is_stop(text):
        return {"stop": False, "customers": 0, "confirm": False}
    customers = _customers_with(ws, "phone", phone)
    changed = _set_status(ws, customers, "sms", "opted_out", at, "inbound_stop")
    new = campaign_store.suppress(ws.store, "sms", address_hash(phone), "inbound_stop", at)
    return {"stop": True, "customers": changed, "confirm": new}


def email_event(ws: Workspace, email: str, kind: str, at: datetime | None = None) -> dict[str, Any]:
    """An unsubscribe, hard bounce or complaint: opt the address's customers out of email and
    suppress the hashed address."""
    if kind not in ("unsubscribe", "hard_bounce", "complaint"):
        raise ServiceError(f"unknown email event {kind!r}")
    at = at or now_utc()
    customers = _customers_with(ws, "email", email)
    changed = _set_status(ws, customers, "email", "opted_out", at, kind)
    new = campaign_store.suppress(ws.store, "email", address_hash(email), kind, at)
    return {"customers": changed, "suppressed": new}


_ADDRESS_COLUMN = {"sms": "phone", "email": "email"}


def unsubscribe_customer(
    ws: Workspace,
    customer_id: str,
    channel: str,
    campaign_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A signed unsubscribe link was used: opt the customer out of ``channel``; for sms and
    email every customer with the same address too, and the hashed address is suppressed.
    An unknown (e.g. erased) customer changes nothing and is not an error: the link must not
    tell who exists."""
    if channel not in ("sms", "email", "web_push"):
        raise ServiceError(f"unknown channel {channel!r}")
    at = at or now_utc()
    customers = ws.table("customers")
    found = customers.filter(customers.customer_id == ibis.literal(customer_id)).limit(1)
    rows = found.to_pyarrow().to_pylist()
    if not rows:
        return {"customers": 0, "suppressed": False}
    column = _ADDRESS_COLUMN.get(channel)
    address = rows[0].get(column) if column else None
    if not address:
        changed = _set_status(ws, [customer_id], channel, "opted_out", at, "unsubscribe_link")
        return {"customers": changed, "suppressed": False}
    ids = sorted({customer_id, *_customers_with(ws, str(column), str(address))})
    changed = _set_status(ws, ids, channel, "opted_out", at, "unsubscribe_link")
    new = campaign_store.suppress(ws.store, channel, address_hash(str(address)), "unsubscribe", at)
    return {"customers": changed, "suppressed": new}


# --- GDPR ---------------------------------------------------------------------------------------


def _rows(expr: ibis.Table) -> list[dict[str, Any]]:
    return [dict(row) for row in expr.to_pyarrow().to_pylist()]


def export_customer(ws: Workspace, customer_id: str) -> dict[str, Any]:
    """Everything held about a customer, as one JSON-ready document."""
    key = ibis.literal(customer_id)
    tables: dict[str, Any] = {}
    read = ws.tables_named(
        "customers", "subscriptions", "orders", "returns", "events", "order_items"
    )
    for name in ("customers", "subscriptions", "orders", "returns", "events"):
        table = read[name]
        tables[name] = _rows(table.filter(table.customer_id == key))
    if not tables["customers"]:
        raise ServiceError(f"no customer {customer_id!r}")
    order_ids = [row["order_id"] for row in tables["orders"]]
    # the catalog's columns (the lookup layout adds one of its own: ``realtime.ITEM_OWNER``)
    items = read["order_items"].select(*(c.name for c in ws.catalog.table("order_items").columns))
    tables["order_items"] = (
        _rows(items.filter(items.order_id.isin([ibis.literal(o) for o in order_ids])))
        if order_ids
        else []
    )
    store = ws.store
    app: dict[str, Any] = {}
    for name, sql in (
        ("segment_members", "SELECT * FROM segment_members WHERE customer_id = ?"),
        ("membership_log", "SELECT * FROM membership_log WHERE customer_id = ?"),
        ("manual_list_members", "SELECT * FROM manual_list_members WHERE customer_id = ?"),
        ("campaign_audience", "SELECT * FROM campaign_audience WHERE customer_id = ?"),
        ("send_ledger", "SELECT * FROM send_ledger WHERE customer_id = ?"),
    ):
        app[name] = store.query(sql, (customer_id,))
    profile = tables["customers"][0]
    suppressed = []
    for channel, column in (("sms", "phone"), ("email", "email")):
        value = profile.get(column)
        if value and store.scalar(
            "SELECT count(*) FROM suppressions WHERE channel = ? AND address_hash = ?",
            (channel, address_hash(str(value))),
        ):
            suppressed.append(channel)
    return {
        "customer_id": customer_id,
        "data": tables,
        "app_store": app,
        "suppressed_channels": suppressed,
    }


def forget_customer(ws: Workspace, customer_id: str, at: datetime | None = None) -> dict[str, Any]:
    """Erase a customer's personal data everywhere except hashed suppression entries."""
    at = at or now_utc()
    if ws.engine.kind is EngineKind.PYSPARK:
        raise ServiceError("erasure needs a DuckDB or PostgreSQL data engine")
    customers = ws.table("customers")
    found = _rows(customers.filter(customers.customer_id == ibis.literal(customer_id)).limit(1))
    if not found:
        raise ServiceError(f"no customer {customer_id!r}")
    profile = found[0]
    for channel, column in (("sms", "phone"), ("email", "email")):
        value = profile.get(column)
        if value:
            campaign_store.suppress(ws.store, channel, address_hash(str(value)), "erased", at)
    token = f"erased-{secrets.token_hex(12)}"
    mark = "?" if ws.engine.kind is EngineKind.DUCKDB else "%s"
    # Mapped tables (warehouse mode) belong to the business: Segmentum never writes to them,
    # so the answer names them and the erasure there is the warehouse owner's job.
    mapped = ws.settings.table_mappings
    for table in ("customers", "subscriptions", "events"):
        if table not in mapped:
            ws.engine.raw_sql(f"DELETE FROM {table} WHERE customer_id = {mark}", (customer_id,))
    for table in ("orders", "returns"):
        if table in mapped:
            continue
        ws.engine.raw_sql(
            f"UPDATE {table} SET customer_id = {mark} WHERE customer_id = {mark}",
            (token, customer_id),
        )
    if "orders" not in mapped:
        erase_item_owner(ws, customer_id, token)
    store = ws.store
    with store.transaction():
        store.execute(
            "UPDATE send_ledger SET customer_id = ?, recipient = NULL, subject = NULL, "
            "body = NULL, html = NULL, error = NULL WHERE customer_id = ?",
            (token, customer_id),
        )
        for table in ("campaign_audience", "segment_members", "membership_log"):
            store.execute(f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?",
                          (token, customer_id))  # fmt: skip
        store.execute("DELETE FROM manual_list_members WHERE customer_id = ?", (customer_id,))
        store.execute("INSERT INTO erasures VALUES (?, ?)", (token, naive(at)))
    left = [t for t in ("customers", "subscriptions", "events", "orders", "returns") if t in mapped]
    return {
        "customer_id": customer_id,
        "token": token,
        "erased_at": at,
        "erase_in_warehouse": left,
    }
