"""The customer data model: the tables Segmentum reads, their columns and keys.

Every layer takes table and column names from here, so one concept keeps one name from the
importer to the compiler to the reports. Each activity table carries, besides its UTC instant,
``local_date``: the record's date in the workspace timezone, derived at import. Day windows
("within 30 days", RFM recency) compare dates, which every engine does identically, instead of
converting time zones inside each engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from segmentum.catalog.types import ValueType


@dataclass(frozen=True)
class Column:
    name: str
    type: ValueType
    required: bool = False
    max_length: int | None = None
    description: str = ""
    #: Derived at import (never read from a file).
    derived: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    #: Columns that identify a record; imports upsert and deduplicate by them.
    key: tuple[str, ...]
    #: The instant that places a record in time (None for timeless tables).
    time_column: str | None = None
    #: The customer each record belongs to (None for the product feed).
    customer_column: str | None = "customer_id"
    description: str = ""
    #: Whether workspace-declared custom attributes extend this table.
    extensible: bool = False

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    def has_column(self, name: str) -> bool:
        return any(column.name == name for column in self.columns)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)

    @property
    def source_columns(self) -> tuple[Column, ...]:
        """Columns a file may provide (everything except derived ones)."""
        return tuple(column for column in self.columns if not column.derived)


T = ValueType

CUSTOMERS = Table(
    name="customers",
    key=("customer_id",),
    time_column="signup_at",
    extensible=True,
    description="One row per customer profile.",
    columns=(
        Column("customer_id", T.TEXT, required=True, max_length=128),
        Column("signup_at", T.TIMESTAMP),
        Column("first_name", T.TEXT, max_length=200),
        Column("last_name", T.TEXT, max_length=200),
        Column("email", T.TEXT, max_length=254),
        Column("phone", T.TEXT, max_length=16, description="E.164"),
        Column("gender", T.TEXT, max_length=32),
        Column("birth_date", T.DATE),
        Column("city", T.TEXT, max_length=200),
        Column("region", T.TEXT, max_length=200),
        Column("country", T.TEXT, max_length=2, description="ISO 3166-1 alpha-2"),
        Column("timezone", T.TEXT, max_length=64, description="IANA zone"),
        Column("language", T.TEXT, max_length=35, description="BCP 47 tag, e.g. cs or ru"),
        Column("loyalty_member", T.BOOL),
        Column("loyalty_tier", T.TEXT, max_length=64),
        Column("lead_stage", T.TEXT, max_length=32),
        Column("tags", T.TEXT_LIST, max_length=1000),
        Column("signup_date", T.DATE, derived=True, description="signup_at's local date"),
    ),
)

PRODUCTS = Table(
    name="products",
    key=("product_id",),
    customer_column=None,
    extensible=True,
    description="The product feed.",
    columns=(
        Column("product_id", T.TEXT, required=True, max_length=128),
        Column("name", T.TEXT, max_length=500),
        Column("category", T.TEXT, max_length=200),
        Column("brand", T.TEXT, max_length=200),
        Column("price", T.MONEY),
        Column("on_promo", T.BOOL),
    ),
)

ORDERS = Table(
    name="orders",
    key=("order_id",),
    time_column="ordered_at",
    description="Purchases. Every status except 'cancelled' counts as a purchase.",
    columns=(
        Column("order_id", T.TEXT, required=True, max_length=128),
        Column("customer_id", T.TEXT, required=True, max_length=128),
        Column("ordered_at", T.TIMESTAMP, required=True),
        Column("amount", T.MONEY, required=True, description="workspace currency"),
        Column("currency", T.TEXT, max_length=3),
        Column("status", T.TEXT, max_length=32),
        Column("store", T.TEXT, max_length=200),
        Column("local_date", T.DATE, derived=True),
    ),
)

ORDER_ITEMS = Table(
    name="order_items",
    key=("order_id", "product_id"),
    customer_column=None,
    description="Lines of an order; item value is quantity × unit_price.",
    columns=(
        Column("order_id", T.TEXT, required=True, max_length=128),
        Column("product_id", T.TEXT, required=True, max_length=128),
        Column("quantity", T.INTEGER, required=True),
        Column("unit_price", T.MONEY, required=True),
    ),
)

RETURNS = Table(
    name="returns",
    key=("return_id",),
    time_column="returned_at",
    description="Returned goods. Returns never reduce monetary value.",
    columns=(
        Column("return_id", T.TEXT, required=True, max_length=128),
        Column("order_id", T.TEXT, max_length=128),
        Column("customer_id", T.TEXT, required=True, max_length=128),
        Column("product_id", T.TEXT, max_length=128),
        Column("quantity", T.INTEGER),
        Column("amount", T.MONEY),
        Column("returned_at", T.TIMESTAMP, required=True),
        Column("reason", T.TEXT, max_length=500),
        Column("local_date", T.DATE, derived=True),
    ),
)

#: Event property columns are added to this table from the declared event types.
EVENTS = Table(
    name="events",
    key=("event_id",),
    time_column="occurred_at",
    description="Everything customers do besides ordering; properties as typed columns.",
    columns=(
        Column("event_id", T.TEXT, required=True, max_length=128),
        Column("customer_id", T.TEXT, required=True, max_length=128),
        Column("type", T.TEXT, required=True, max_length=64),
        Column("occurred_at", T.TIMESTAMP, required=True),
        Column("properties", T.JSON, max_length=32768, description="the raw JSON properties"),
        Column("local_date", T.DATE, derived=True),
    ),
)

SUBSCRIPTIONS = Table(
    name="subscriptions",
    key=("customer_id", "channel"),
    time_column="changed_at",
    description="Consent per customer and channel; the newest changed_at wins.",
    columns=(
        Column("customer_id", T.TEXT, required=True, max_length=128),
        Column("channel", T.TEXT, required=True, max_length=16),
        Column("status", T.TEXT, required=True, max_length=16),
        Column("changed_at", T.TIMESTAMP, required=True),
        Column("source", T.TEXT, max_length=200),
    ),
)

CORE_TABLES: tuple[Table, ...] = (
    CUSTOMERS,
    PRODUCTS,
    ORDERS,
    ORDER_ITEMS,
    RETURNS,
    EVENTS,
    SUBSCRIPTIONS,
)
TABLES_BY_NAME: dict[str, Table] = {table.name: table for table in CORE_TABLES}

CHANNELS: tuple[str, ...] = ("sms", "email", "web_push")
SUBSCRIPTION_STATUSES: tuple[str, ...] = ("opted_in", "opted_out", "pending")
SENDABLE_STATUS = "opted_in"
LEAD_STAGES: tuple[str, ...] = ("new_lead", "qualified_lead", "customer")
CANCELLED_STATUS = "cancelled"
