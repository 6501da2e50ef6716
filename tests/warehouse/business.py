"""The hand-built shop as a business keeps it in its own warehouse: other names, other types.

- ``crm.clients`` (a table): ``client_ref`` text ids, ``created_ts`` TIMESTAMP WITH TIME ZONE,
  ``given_name``; no ``signup_date`` (derived by the engine).
- orders: ``txn_id`` BIGINT (``o0101`` -> 101), ``cust_no``, ``txn_ts`` TIMESTAMP WITH TIME
  ZONE, ``total_czk`` DECIMAL(12,3), ``shop_name``; no ``local_date``. On DuckDB and Spark a
  folder of Hive-partitioned Parquet (``order_month=2024-05/``), on PostgreSQL the table
  ``sales.transactions``.
- order_items: ``txn_id`` BIGINT, ``sku``, ``qty`` INTEGER, ``unit_price`` DECIMAL(12,3); a
  Parquet folder (DuckDB, Spark) or ``sales.transaction_lines`` (PostgreSQL).
- subscriptions: the view ``crm.consent_view`` over ``crm.consent_log`` (``state``,
  ``changed_ts`` with time zone).
- products, returns, events and manual lists stay Segmentum's own tables (mixing works).

Ids stay text (``c01``): integer order ids exercise integer -> text keys (joined to items);
customer ids keep their byte order, so RFM ties and percentiles are the corpus's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from segmentum.catalog.mapping import ParquetSource, TableMapping
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.engine.connection import Engine, EngineKind
from tests.corpus.shop import DATA, SETTINGS

MAPPED = ("customers", "orders", "order_items", "subscriptions")
TZ = pa.timestamp("us", tz="UTC")
AMOUNT = pa.decimal128(12, 3)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _amount(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.001"))


def order_number(order_id: str) -> int:
    return int(order_id.removeprefix("o"))


def clients() -> pa.Table:
    rows = []
    for row in DATA["customers"]:
        out = {k: v for k, v in row.items() if k not in ("customer_id", "signup_at", "first_name")}
        out = {
            "client_ref": row["customer_id"],
            "created_ts": _aware(row["signup_at"]),
            "given_name": row["first_name"],
            **out,
        }
        rows.append(out)
    fields = [
        pa.field("client_ref", pa.string()),
        pa.field("created_ts", TZ),
        pa.field("given_name", pa.string()),
        pa.field("last_name", pa.string()),
        pa.field("email", pa.string()),
        pa.field("phone", pa.string()),
        pa.field("gender", pa.string()),
        pa.field("birth_date", pa.date32()),
        pa.field("city", pa.string()),
        pa.field("region", pa.string()),
        pa.field("country", pa.string()),
        pa.field("timezone", pa.string()),
        pa.field("language", pa.string()),
        pa.field("loyalty_member", pa.bool_()),
        pa.field("loyalty_tier", pa.string()),
        pa.field("lead_stage", pa.string()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("has_children", pa.bool_()),
        pa.field("clothing_size", pa.string()),
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def transactions() -> pa.Table:
    rows = [
        {
            "txn_id": order_number(row["order_id"]),
            "cust_no": row["customer_id"],
            "txn_ts": _aware(row["ordered_at"]),
            "total_czk": _amount(row["amount"]),
            "currency": row["currency"],
            "status": row["status"],
            "shop_name": row["store"],
            "order_month": row["ordered_at"].strftime("%Y-%m"),
        }
        for row in DATA["orders"]
    ]
    schema = pa.schema(
        [
            ("txn_id", pa.int64()),
            ("cust_no", pa.string()),
            ("txn_ts", TZ),
            ("total_czk", AMOUNT),
            ("currency", pa.string()),
            ("status", pa.string()),
            ("shop_name", pa.string()),
            ("order_month", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def transaction_lines() -> pa.Table:
    rows = [
        {
            "txn_id": order_number(row["order_id"]),
            "sku": row["product_id"],
            "qty": row["quantity"],
            "unit_price": _amount(row["unit_price"]),
        }
        for row in DATA["order_items"]
    ]
    schema = pa.schema(
        [("txn_id", pa.int64()), ("sku", pa.string()), ("qty", pa.int32()), ("unit_price", AMOUNT)]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def consent_log() -> pa.Table:
    rows = [
        {
            "customer_id": row["customer_id"],
            "channel": row["channel"],
            "state": row["status"],
            "changed_ts": _aware(row["changed_at"]),
            "source": row.get("source"),
        }
        for row in DATA["subscriptions"]
    ]
    schema = pa.schema(
        [
            ("customer_id", pa.string()),
            ("channel", pa.string()),
            ("state", pa.string()),
            ("changed_ts", TZ),
            ("source", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


CUSTOMER_COLUMNS = {
    "customer_id": "client_ref",
    "signup_at": "created_ts",
    "first_name": "given_name",
}
ORDER_COLUMNS = {
    "order_id": "txn_id",
    "customer_id": "cust_no",
    "ordered_at": "txn_ts",
    "amount": "total_czk",
    "store": "shop_name",
}
ITEM_COLUMNS = {
    "order_id": "txn_id",
    "product_id": "sku",
    "quantity": "qty",
    "unit_price": "unit_price",
}
CONSENT_COLUMNS = {"status": "state", "changed_at": "changed_ts"}


def mapped_settings(
    crm: str, sales: str | None, parquet: Path | None, base: WorkspaceSettings = SETTINGS
) -> WorkspaceSettings:
    """The shop's settings with the four tables mapped (Parquet when ``parquet`` is given)."""
    if parquet is not None:
        orders_source: str | ParquetSource = ParquetSource(parquet=str(parquet / "orders"))
        items_source: str | ParquetSource = ParquetSource(parquet=str(parquet / "order_items"))
    else:
        orders_source = f"{sales}.transactions"
        items_source = f"{sales}.transaction_lines"
    mappings = {
        "customers": TableMapping(source=f"{crm}.clients", columns=CUSTOMER_COLUMNS),
        "orders": TableMapping(source=orders_source, columns=ORDER_COLUMNS),
        "order_items": TableMapping(source=items_source, columns=ITEM_COLUMNS),
        "subscriptions": TableMapping(source=f"{crm}.consent_view", columns=CONSENT_COLUMNS),
    }
    return base.model_copy(update={"table_mappings": mappings})


# --- putting the business's tables on an engine ------------------------------------------------


def write_parquet(directory: Path) -> Path:
    """orders (Hive-partitioned by order_month) and order_items folders under ``directory``."""
    pq.write_to_dataset(transactions(), directory / "orders", partition_cols=["order_month"])
    (directory / "order_items").mkdir(parents=True)
    half = transaction_lines().num_rows // 2
    lines = transaction_lines()
    pq.write_table(lines.slice(0, half), directory / "order_items" / "part-0.parquet")
    pq.write_table(lines.slice(half), directory / "order_items" / "part-1.parquet")
    return directory


def _duckdb_table(engine: Engine, name: str, data: pa.Table) -> None:
    con: Any = engine.backend.con
    view = f"_src_{uuid.uuid4().hex}"
    con.register(view, data)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM {view}")
    con.unregister(view)


PG_DDL = {
    "clients": (
        "client_ref text NOT NULL, created_ts timestamptz, given_name text, last_name text, "
        "email text, phone text, gender text, birth_date date, city text, region text, "
        "country text, timezone text, language text, loyalty_member boolean, "
        "loyalty_tier text, lead_stage text, tags text[], has_children boolean, "
        "clothing_size text"
    ),
    "transactions": (
        "txn_id bigint PRIMARY KEY, cust_no text NOT NULL, txn_ts timestamptz NOT NULL, "
        "total_czk numeric(12,3) NOT NULL, currency text, status text, shop_name text, "
        "order_month text"
    ),
    "transaction_lines": (
        "txn_id bigint NOT NULL, sku text NOT NULL, qty integer NOT NULL, unit_price numeric(12,3)"
    ),
    "consent_log": (
        "customer_id text NOT NULL, channel text NOT NULL, state text NOT NULL, "
        "changed_ts timestamptz NOT NULL, source text"
    ),
}


def _postgres_table(engine: Engine, schema: str, name: str, data: pa.Table) -> None:
    con: Any = engine.backend.con
    columns = ", ".join(data.column_names)
    marks = ", ".join(["%s"] * data.num_columns)
    with con.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {schema}.{name} ({PG_DDL[name]})")
        cursor.executemany(
            f"INSERT INTO {schema}.{name} ({columns}) VALUES ({marks})",
            [tuple(row.values()) for row in data.to_pylist()],
        )
    con.commit()


def _spark_table(engine: Engine, schema: str, name: str, data: pa.Table, directory: Path) -> None:
    path = directory / "spark_tables" / schema / name
    path.mkdir(parents=True)
    pq.write_table(data, path / "part-0.parquet")
    engine.raw_sql(f"CREATE TABLE {schema}.{name} USING parquet LOCATION '{path}'")


def create_sources(engine: Engine, directory: Path, suffix: str = "") -> WorkspaceSettings:
    """The business's tables on ``engine`` (and Parquet under ``directory``); their mapping."""
    crm, sales = f"crm{suffix}", f"sales{suffix}"
    if engine.kind is EngineKind.POSTGRES:
        engine.raw_sql(f"CREATE SCHEMA {crm}")
        engine.raw_sql(f"CREATE SCHEMA {sales}")
        _postgres_table(engine, crm, "clients", clients())
        _postgres_table(engine, sales, "transactions", transactions())
        _postgres_table(engine, sales, "transaction_lines", transaction_lines())
        _postgres_table(engine, crm, "consent_log", consent_log())
        engine.raw_sql(f"CREATE VIEW {crm}.consent_view AS SELECT * FROM {crm}.consent_log")
        return mapped_settings(crm, sales, None)
    write_parquet(directory)
    if engine.kind is EngineKind.DUCKDB:
        engine.raw_sql(f"CREATE SCHEMA {crm}")
        _duckdb_table(engine, f"{crm}.clients", clients())
        _duckdb_table(engine, f"{crm}.consent_log", consent_log())
    else:
        engine.raw_sql(f"CREATE DATABASE {crm}")
        _spark_table(engine, crm, "clients", clients(), directory)
        _spark_table(engine, crm, "consent_log", consent_log(), directory)
    engine.raw_sql(f"CREATE VIEW {crm}.consent_view AS SELECT * FROM {crm}.consent_log")
    return mapped_settings(crm, None, directory)
