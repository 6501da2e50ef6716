"""Segment tracking messages (identify, track, page, and our subscription) as catalog rows.

Two halves:

* `map_message` turns one message (a parsed JSON object) into text cells for catalog rows,
  with the rules of docs/intake.md: the event time (clock-skew correction, zone-less = UTC,
  far future rejected), identify traits onto customer columns and declared attributes, the
  e-commerce spec events (``Order Completed`` → an order with items, ``Product Added`` /
  ``Product Removed`` / ``Cart Viewed`` → ``cart_updated``, ``Checkout Started`` →
  ``checkout_started``), other events by their snake_case name, ``page`` → ``page_view``.
  What has no column is reported (``ignored``) and kept by the caller, never dropped unseen.
* `ingest_messages` validates those cells with the importers' own typed query (the same
  reason codes, the same phone/country/zone lookups), rejects a whole message when any of
  its rows has a reason, and upserts the rest with the importers' merge, in one transaction.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.tables import Table
from segmentum.ingest.importer import ImportOptions, _lookups
from segmentum.ingest.merge import merge
from segmentum.ingest.reading import Staged, q
from segmentum.ingest.validate import (
    FUTURE_TOLERANCE,
    REASONS,
    Context,
    reason_list,
    typed_query,
)

#: Limits of the Segment HTTP Tracking API (answered 413 naming the limit).
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500

#: Reason codes of the intake besides the importers' (`REASONS`).
MESSAGE_REASONS: Mapping[str, str] = {
    "bad_message": "not a JSON object, or no known 'type'",
    "unsupported_type": "alias, group and screen messages are not stored",
    "missing_user_id": "no userId (anonymous activity is not stored)",
    "message_too_large": f"the message is larger than {MAX_MESSAGE_BYTES // 1024} KB",
    "future_timestamp": "the event time is more than 24 hours after the message was received",
    "bad_products": "products is not a list of objects",
}
ALL_REASONS: Mapping[str, str] = {
    **REASONS,
    **MESSAGE_REASONS,
    "bad_date": "a timestamp or sentAt that is not an ISO 8601 date-time",
}

#: Tables the intake writes, in the order they are applied.
INTAKE_TABLES = ("customers", "subscriptions", "orders", "order_items", "events")
CART_EVENTS = ("Product Added", "Product Removed", "Cart Viewed")
#: Trait (snake_case) -> customers column, besides same-named columns.
TRAIT_ALIASES: Mapping[str, str] = {
    "birthday": "birth_date",
    "created_at": "signup_at",
    "firstname": "first_name",
    "lastname": "last_name",
    "locale": "language",
}
ADDRESS_FIELDS: Mapping[str, str] = {"city": "city", "state": "region", "country": "country"}
ORDER_PROPERTIES = frozenset(
    {"order_id", "orderId", "total", "revenue", "currency", "products", "affiliation"}
)
PRODUCT_FIELDS = frozenset({"product_id", "productId", "sku", "id", "quantity", "price"})

Cell = str | None
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def snake_case(name: str) -> str:
    """``Order Completed`` → ``order_completed``; ``firstName`` → ``first_name``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 text as an aware UTC instant; zone-less means UTC (the Segment API's
    convention). Raises ValueError for anything else (numbers included)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not an ISO 8601 text")
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_time(
    message: Mapping[str, Any], received_at: datetime, batch_sent_at: Any = None
) -> datetime:
    """The message's corrected event time (see docs/intake.md, "Time").

    A subscription's ``changed_at``, when given, is its ``timestamp``. ``timestamp`` absent:
    the receipt. With a ``sentAt`` (the message's own, else the batch's)
    the client's clock is corrected: ``timestamp + (received_at - sentAt)``. Raises ValueError
    (``bad_date``) for an unparsable time and OverflowError (``future_timestamp``) for a time
    more than `FUTURE_TOLERANCE` after the receipt.
    """
    raw = message.get("timestamp")
    kind = str(message.get("type") or "").strip().lower()
    if kind == "subscription" and message.get("changed_at") is not None:
        raw = message["changed_at"]  # the consent change's own time wins over the send stamp
    if raw is None:
        return received_at
    timestamp = parse_instant(raw)
    sent = message.get("sentAt", batch_sent_at)
    if sent is not None:
        timestamp = timestamp + (received_at - parse_instant(sent))
    if timestamp - received_at > FUTURE_TOLERANCE:
        raise OverflowError("far in the future")
    return timestamp


def message_id(message: Mapping[str, Any]) -> str:
    """The ``messageId``, or (when absent) ``sha256:`` of the message's canonical JSON, so a
    re-sent identical message is still stored once."""
    given = message.get("messageId")
    if isinstance(given, str | int) and not isinstance(given, bool) and str(given).strip():
        return nfc(str(given).strip())
    canonical = json.dumps(message, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def nfc(text: str) -> str:
    """``text`` in Unicode NFC, as the importers store text (``validate.cell_text``). Done
    here as well because the intake groups rows, finds customers to create and reports the
    customers it touched by these values in Python before validation: a decomposed and a
    composed spelling of one id must be one key there too. (CPython answers an already-NFC
    string from a quick check without copying it.)"""
    return unicodedata.normalize("NFC", text)


def _text(value: Any) -> Cell:
    """A JSON value as the text cell the importers read (None: absent)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    return nfc(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _id(value: Any) -> Cell:
    if isinstance(value, bool) or value is None:
        return None
    text = nfc(str(value).strip()) if isinstance(value, str | int) else None
    return text or None


@dataclass
class Mapped:
    """One message's rows (text cells per catalog table) and what was not stored."""

    index: int
    message_id: str
    kind: str
    customer_id: str | None
    occurred_at: datetime | None
    raw: str
    rows: dict[str, list[dict[str, Cell]]] = field(default_factory=dict)
    #: Fields with no column: {"traits": {...}, "properties": {...}} (values kept).
    ignored: dict[str, dict[str, Any]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def table(self) -> str | None:
        """The message's main record table."""
        return next(iter(self.rows), None)

    def add(self, table: str, row: dict[str, Cell]) -> None:
        self.rows.setdefault(table, []).append(row)

    def ignore(self, group: str, key: str, value: Any) -> None:
        self.ignored.setdefault(group, {})[key] = value


@dataclass(frozen=True)
class MappingContext:
    catalog: Catalog
    received_at: datetime
    batch_sent_at: Any = None
    #: Take a message's own ``receivedAt`` (Segment's exports carry it) as its receipt: for
    #: replayed files (``segmentum ingest``), never for live HTTP requests.
    trust_received_at: bool = False


def map_message(index: int, message: Any, ctx: MappingContext) -> Mapped:
    """One message as catalog rows, or with ``reasons`` (rejected before validation)."""
    if not isinstance(message, dict):
        raw = json.dumps(message, ensure_ascii=False, default=str)
        return Mapped(index, "sha256:" + hashlib.sha256(raw.encode()).hexdigest(), "unknown",
                      None, None, raw, reasons=["bad_message"])  # fmt: skip
    raw = json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)
    kind = str(message.get("type") or "").strip().lower()
    mapped = Mapped(index, message_id(message), kind or "unknown", None, None, raw)
    if len(raw.encode("utf-8")) > MAX_MESSAGE_BYTES:
        mapped.reasons.append("message_too_large")
        return mapped
    if kind in ("alias", "group", "screen"):
        mapped.reasons.append("unsupported_type")
        return mapped
    if kind not in ("identify", "track", "page", "subscription"):
        mapped.reasons.append("bad_message")
        return mapped
    customer = _id(message.get("userId", message.get("customer_id")))
    mapped.customer_id = customer
    if customer is None:
        mapped.reasons.append("missing_user_id")
    try:
        received_at = ctx.received_at
        if ctx.trust_received_at and message.get("receivedAt") is not None:
            received_at = parse_instant(message["receivedAt"])
        mapped.occurred_at = event_time(message, received_at, ctx.batch_sent_at)
    except OverflowError:
        mapped.reasons.append("future_timestamp")
    except (ValueError, TypeError):
        mapped.reasons.append("bad_date")
    if mapped.reasons:
        return mapped
    assert customer is not None
    assert mapped.occurred_at is not None
    if kind == "identify":
        _identify(mapped, message, ctx.catalog)
    elif kind == "subscription":
        _subscription(mapped, message)
    elif kind == "page":
        _page(mapped, message)
    else:
        _track(mapped, message)
    return mapped


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _identify(mapped: Mapped, message: Mapping[str, Any], catalog: Catalog) -> None:
    customers = catalog.table("customers")
    settable = {c.name for c in customers.source_columns} - {"customer_id"}
    row: dict[str, Cell] = {"customer_id": mapped.customer_id}
    traits = _mapping(message.get("traits"))
    context = _mapping(message.get("context"))
    for key, value in traits.items():
        if key == "address" and isinstance(value, dict):
            for part, part_value in value.items():
                column = ADDRESS_FIELDS.get(part)
                if column is None:
                    mapped.ignore("traits", f"address.{part}", part_value)
                elif part_value is not None:
                    row[column] = _text(part_value)
            continue
        name = snake_case(key)
        column = TRAIT_ALIASES.get(name, name)
        if column not in settable:
            mapped.ignore("traits", key, value)
            continue
        if value is None:  # a null trait leaves the stored value
            continue
        if (
            column == "birth_date"
            and isinstance(value, str)
            and re.match(r"^\d{4}-\d{2}-\d{2}T", value)
        ):
            value = value[:10]  # an ISO date-time birthday: its calendar date as written
        row[column] = _text(value)
    if "timezone" not in row and isinstance(context.get("timezone"), str):
        row["timezone"] = _text(context["timezone"])
    mapped.add("customers", row)


def _subscription(mapped: Mapped, message: Mapping[str, Any]) -> None:
    assert mapped.occurred_at is not None
    mapped.add(
        "subscriptions",
        {
            "customer_id": mapped.customer_id,
            "channel": _text(message.get("channel")),
            "status": _text(message.get("status")),
            "changed_at": utc_text(mapped.occurred_at),
            "source": _text(message.get("source")) or "intake",
        },
    )


def _event(mapped: Mapped, event_type: str, properties: Mapping[str, Any]) -> None:
    assert mapped.occurred_at is not None
    mapped.add(
        "events",
        {
            "event_id": mapped.message_id,
            "customer_id": mapped.customer_id,
            "type": nfc(event_type),
            "occurred_at": utc_text(mapped.occurred_at),
            "properties": nfc(json.dumps(properties, ensure_ascii=False, separators=(",", ":"))),
        },
    )


def _page(mapped: Mapped, message: Mapping[str, Any]) -> None:
    properties = dict(_mapping(message.get("properties")))
    page = _mapping(_mapping(message.get("context")).get("page"))
    if "url" not in properties and page.get("url") is not None:
        properties["url"] = page["url"]
    if message.get("name") is not None and "name" not in properties:
        properties["name"] = message["name"]
    _event(mapped, "page_view", properties)


def _product_id(product: Mapping[str, Any]) -> Any:
    for key in ("product_id", "productId", "sku", "id"):
        if product.get(key) is not None:
            return product[key]
    return None


def _products(mapped: Mapped, properties: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    products = properties.get("products")
    if products is None:
        return []
    if not isinstance(products, list) or not all(isinstance(p, dict) for p in products):
        mapped.reasons.append("bad_products")
        return None
    return products


def _first(properties: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if properties.get(key) is not None:
            return properties[key]
    return None


def _track(mapped: Mapped, message: Mapping[str, Any]) -> None:
    name = str(message.get("event") or "").strip()
    properties = dict(_mapping(message.get("properties")))
    if name == "Order Completed":
        _order(mapped, properties)
        return
    if name in CART_EVENTS:
        products = _products(mapped, properties)
        if products is None:
            return
        if not products and _product_id(properties) is not None:
            products = [dict(properties)]  # one product: the message's own properties
        properties.setdefault("items", products)
        if "product_id" not in properties and products:
            properties["product_id"] = _product_id(products[0])
        value = _first(properties, "value", "total", "revenue")
        if value is not None:
            properties["value"] = value
        _event(mapped, "cart_updated", properties)
        return
    if name == "Checkout Started":
        value = _first(properties, "value", "total", "revenue")
        if value is not None:
            properties["value"] = value
        _event(mapped, "checkout_started", properties)
        return
    _event(mapped, snake_case(name) or name, properties)


def _quantity(value: Any) -> Cell:
    """A JSON whole number written as a float (``2.0``) is whole; ``2.7`` stays ``bad_number``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


def _order(mapped: Mapped, properties: Mapping[str, Any]) -> None:
    assert mapped.occurred_at is not None
    products = _products(mapped, properties)
    if products is None:
        return
    order_id = _id(_first(properties, "order_id", "orderId"))
    amount = _first(properties, "total", "revenue")
    mapped.add(
        "orders",
        {
            "order_id": order_id,
            "customer_id": mapped.customer_id,
            "ordered_at": utc_text(mapped.occurred_at),
            "amount": _text(amount),
            "currency": _text(properties.get("currency")),
            "status": "completed",
            "store": _text(properties.get("affiliation")),
        },
    )
    for key, value in properties.items():
        if key not in ORDER_PROPERTIES:
            mapped.ignore("properties", key, value)
    seen: set[str | None] = set()
    for position, product in enumerate(products):
        product_id = _id(_product_id(product))
        if product_id in seen and product_id is not None:
            mapped.reasons.append("duplicate_key_in_file")
        seen.add(product_id)
        mapped.add(
            "order_items",
            {
                "order_id": order_id,
                "product_id": product_id,
                "quantity": _quantity(product.get("quantity", 1)),
                "unit_price": _text(product.get("price")),
            },
        )
        for key, value in product.items():
            if key not in PRODUCT_FIELDS:
                mapped.ignore("properties", f"products[{position}].{key}", value)


# --- validation and upsert ----------------------------------------------------------------------


@dataclass(frozen=True)
class IngestOutcome:
    """What `ingest_messages` did: per message its reasons (none: accepted) and, per table,
    the customers whose rows were written."""

    reasons: Mapping[int, tuple[str, ...]]
    customers_by_table: Mapping[str, frozenset[str]]
    created_customers: frozenset[str]
    event_types: frozenset[str]
    rows_by_table: Mapping[str, int]
    #: The customer of each order whose order or items were written (order_id -> customer).
    order_owners: Mapping[str, str] = field(default_factory=dict)


_counter = itertools.count()
#: Ids looked up per statement (bound values, few enough for DuckDB's index lookups).
LOOKUP_CHUNK = 2_000
#: A group's rows are matched with the stored ones by key lookups up to this many keys, when
#: the key is indexed (``ingest.merge``; the server indexes events.event_id).
KEY_LOOKUPS_UP_TO = 5_000


def _stage(con: Any, name: str, rows: Sequence[tuple[int, dict[str, Cell]]]) -> Staged:
    names: list[str] = []
    for _, row in rows:
        for column in row:
            if column not in names:
                names.append(column)
    columns = {column: f"c{position}" for position, column in enumerate(names)}
    data: dict[str, pa.Array] = {
        "__row": pa.array([number for number, _ in rows], pa.int64()),
        "__bad_count": pa.array([False] * len(rows), pa.bool_()),
    }
    for column, staged in columns.items():
        data[staged] = pa.array([row.get(column) for _, row in rows], pa.string())
    arrow = pa.table(data)
    con.register(name + "_arrow", arrow)
    try:
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    finally:
        con.unregister(name + "_arrow")
    return Staged(name, columns, len(rows))


def _rounds(
    table: Table, rows: Sequence[tuple[int, dict[str, Cell]]], order: Mapping[int, Any]
) -> dict[int, tuple[int, str]]:
    """Row -> (round, signature): round k holds each key's k-th row in ``order`` (keys are
    unique within a round, as the merge needs); the signature is the columns the row gives
    (an identify sets only the traits it carries)."""
    seen: dict[tuple[Cell, ...], int] = {}
    out: dict[int, tuple[int, str]] = {}
    for number, row in sorted(rows, key=lambda item: order[item[0]]):
        key = tuple(row.get(column) for column in table.key)
        k = seen.get(key, 0)
        seen[key] = k + 1
        out[number] = (k, ",".join(sorted(row)))
    return out


def ingest_messages(
    con: Any,
    catalog: Catalog,
    settings: WorkspaceSettings,
    mapped: Sequence[Mapped],
    *,
    default_region: str | None = None,
    before_commit: Callable[[IngestOutcome], None] | None = None,
) -> IngestOutcome:
    """Validate and upsert the rows of ``mapped`` on the DuckDB connection ``con`` in one
    transaction (``before_commit`` runs inside it, after the upserts).

    A message is rejected when it has reasons already or any of its rows fails validation;
    its rows are then not written. Customers that rows name but that do not exist are created
    bare (``customer_id`` only), as ``import --create-customers`` does. Within the messages,
    several rows with one key are applied in message order (subscriptions: newest
    ``changed_at`` wins, as in the importer).
    """
    prefix = f"__intake_{next(_counter)}_{hashlib.sha256(str(id(mapped)).encode()).hexdigest()[:6]}"
    reasons: dict[int, set[str]] = {m.index: set(m.reasons) for m in mapped}
    by_index = {m.index: m for m in mapped}
    numbered: dict[str, list[tuple[int, dict[str, Cell]]]] = {}
    owner: dict[int, int] = {}
    row_numbers = itertools.count(1)
    for message in mapped:
        if message.reasons:
            continue
        for record_table, cells in message.rows.items():
            for row in cells:
                number = next(row_numbers)
                owner[number] = message.index
                numbered.setdefault(record_table, []).append((number, row))
    temps: list[str] = []
    typed_names: dict[str, tuple[str, tuple[str, ...]]] = {}
    options = ImportOptions(default_region=default_region)
    rates = {settings.currency: Decimal(1), **settings.rates}
    con.execute("BEGIN TRANSACTION")
    try:
        for table_name in INTAKE_TABLES:
            rows = numbered.get(table_name)
            if not rows:
                continue
            table = catalog.table(table_name)
            base = f"{prefix}_{table_name}"
            staged = _stage(con, base + "_raw", rows)
            temps.append(staged.table)
            present = dict(staged.columns)
            lookups = _lookups(con, base, table, staged, present, options)
            temps.extend(lookups.values())
            ctx = Context(
                zone="UTC",
                workspace_zone=settings.timezone,
                currency=settings.currency,
                date_format=None,
                event_types=tuple(catalog.event_types),
                rates=rates if table_name == "orders" else None,
                now=None,  # event times are checked at mapping, after the skew correction
                **lookups,
            )
            typed = base + "_typed"
            query = typed_query(catalog, table, staged.table, present, ctx, typed, normalized=True)
            con.execute(query.sql)
            temps.append(typed)
            typed_names[table_name] = (typed, query.columns)
            bad = con.execute(
                f"SELECT __row, {reason_list('__mask', query.codes)} FROM {typed} WHERE __mask <> 0"
            ).fetchall()
            for number, codes in bad:
                reasons[owner[int(number)]].update(codes)
        accepted = {index for index, found in reasons.items() if not found}
        customers_by_table: dict[str, set[str]] = {}
        event_types: set[str] = set()
        rows_by_table: dict[str, int] = {}
        order_owners: dict[str, str] = {}
        order: dict[int, Any] = {}
        for table_name, table_rows in numbered.items():
            for number, row in table_rows:
                order[number] = (
                    (row.get("changed_at") or "", number) if table_name == "subscriptions"
                    else (0, number)
                )  # fmt: skip
        valid: dict[str, list[tuple[int, dict[str, Cell]]]] = {
            table_name: [(n, row) for n, row in table_rows if owner[n] in accepted]
            for table_name, table_rows in numbered.items()
        }
        created = _create_customers(con, prefix, valid)
        for table_name in INTAKE_TABLES:
            rows = valid.get(table_name)
            if not rows:
                continue
            table = catalog.table(table_name)
            typed, columns = typed_names[table_name]
            groups: dict[tuple[int, str], list[int]] = {}
            for number, place in _rounds(table, rows, order).items():
                groups.setdefault(place, []).append(number)
            for (_, signature), numbers in sorted(groups.items()):
                given = set(signature.split(","))
                names = list(columns)
                if table_name == "customers":
                    names = [c for c in columns if c in given or
                             (c == "signup_date" and "signup_at" in given)]  # fmt: skip
                pick = f"{prefix}_{table_name}_pick"
                incoming = f"{prefix}_{table_name}_in"
                selected = ", ".join(f"t.{q(c)}" for c in names)
                con.register(pick, pa.table({"__row": pa.array(numbers, pa.int64())}))
                try:
                    con.execute(
                        f"CREATE OR REPLACE TEMP VIEW {incoming} AS SELECT {selected} FROM "
                        f"{typed} t WHERE t.__row IN (SELECT __row FROM {pick})"
                    )
                    merge(con, table, incoming, names, f"{prefix}_{table_name}_work",
                          key_lookups_up_to=KEY_LOOKUPS_UP_TO)  # fmt: skip
                    _drop_temps(con, [f"{prefix}_{table_name}_work"], views=[incoming])
                finally:
                    con.unregister(pick)
            rows_by_table[table_name] = len(rows)
            touched = customers_by_table.setdefault(table_name, set())
            for number, row in rows:
                customer = row.get("customer_id")
                if customer is None and table_name == "order_items":
                    customer = by_index[owner[number]].customer_id
                if customer is not None:
                    touched.add(customer)
                    if table_name == "orders":  # the last row of a key is the one kept
                        order_owners[str(row["order_id"])] = str(customer)
                    elif table_name == "order_items":  # an item's order, when not written
                        order_owners.setdefault(str(row["order_id"]), str(customer))
                if table_name == "events" and row.get("type"):
                    event_types.add(str(row["type"]))
        outcome = IngestOutcome(
            reasons={index: tuple(sorted(found)) for index, found in reasons.items()},
            customers_by_table={k: frozenset(v) for k, v in customers_by_table.items()},
            created_customers=frozenset(created),
            event_types=frozenset(event_types),
            rows_by_table=rows_by_table,
            order_owners=order_owners,
        )
        if before_commit is not None:
            before_commit(outcome)
        # dropped inside the transaction, in one statement (no auto-committed drop per table)
        _drop_temps(con, reversed(temps))
        temps.clear()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in reversed(temps):  # after a failure: what the rollback left
            try:
                _drop_temps(con, [name])
            except Exception:  # noqa: S112 - a temp table a rollback removed already
                continue
    return outcome


def _drop_temps(con: Any, tables: Iterable[str], views: Iterable[str] = ()) -> None:
    """Drop the intake's temporary tables and views (their kinds are known: no catalog
    lookup per name) in one statement."""
    statements = [f"DROP VIEW IF EXISTS {name}" for name in views]
    statements += [f"DROP TABLE IF EXISTS {name}" for name in tables]
    if statements:
        con.execute("; ".join(statements))


def _create_customers(
    con: Any, prefix: str, valid: Mapping[str, Sequence[tuple[int, dict[str, Cell]]]]
) -> list[str]:
    """Insert bare profiles for customers the valid rows name that do not exist yet (found
    by lookups of bound ids: through the customer_id index when the server made it)."""
    ids = sorted(
        {
            str(row["customer_id"])
            for table_name, rows in valid.items()
            if table_name != "customers"
            for _, row in rows
            if row.get("customer_id")
        }
    )
    existing: set[str] = set()
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        marks = ", ".join("?" * len(chunk))
        found = con.execute(
            f"SELECT customer_id FROM customers WHERE customer_id IN ({marks})", chunk
        ).fetchall()
        existing.update(str(customer) for (customer,) in found)
    created = [customer for customer in ids if customer not in existing]
    if created:
        name = prefix + "_new_customers"
        con.register(name, pa.table({"customer_id": pa.array(created, pa.string())}))
        try:
            con.execute(f"INSERT INTO customers (customer_id) SELECT customer_id FROM {name}")
        finally:
            con.unregister(name)
    return created
