"""The same loads and queries on DuckDB, PostgreSQL and Spark, with exact results."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
import pytest

from segmentum.catalog.schema import build_catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.types import ValueType
from segmentum.engine.bulk import load_arrow
from segmentum.engine.connection import Engine, EngineError, EngineKind, ensure_schema
from tests.engine_fixtures import EngineFactory, admin_connection

#: Byte order of the UTF-8 ids: digits < upper case < lower case < é (C3 A9) < Ž (C5 BD).
IDS_IN_BYTE_ORDER = ["10", "9", "B", "a", "é", "Ž"]

CUSTOMERS = pa.table(
    {
        "customer_id": ["a", "B", "é", "Ž", "10", "9"],
        "first_name": ["Иван", "Žofie", None, "", 'quo"te,\nline', "Přemysl"],
        "last_name": ["Петров", "Dvořáková", "Ünal", None, "\\back", "{x}"],
        "birth_date": [dt.date(1990, 1, 2), None, dt.date(1969, 12, 31), None, None, None],
        "signup_at": [
            dt.datetime(2024, 1, 1, 10, 0, 0, 123456),
            None,
            dt.datetime(1999, 12, 31, 23, 59, 59),
            None,
            None,
            dt.datetime(2024, 2, 29, 0, 0),
        ],
        "loyalty_member": [True, None, False, None, None, True],
        "tags": [["vip", "čeština", 'a"b\\c', None], None, [], ["x,y", "{}"], None, ["NULL"]],
    }
)

RETURNS = pa.table(
    {
        "return_id": ["r1", "r2", "r3"],
        "customer_id": ["a", "B", "é"],
        "quantity": pa.array([2, None, -1], pa.int64()),
        "amount": pa.array([Decimal("12.50"), None, Decimal("-0.01")], pa.decimal128(18, 2)),
        "returned_at": [dt.datetime(2024, 3, 1, 8, 30)] * 3,
        "local_date": [dt.date(2024, 3, 1), None, dt.date(2024, 2, 29)],
    }
)

ORDERS = pa.table(
    {
        "order_id": [f"o{i}" for i in range(8)],
        "customer_id": ["a", "a", "B", "é", "é", "Ž", "10", "9"],
        "ordered_at": [dt.datetime(2024, 5, 1, 12, 0)] * 8,
        "amount": pa.array(
            [Decimal(v) for v in ("10.10", "0.20", "10.30", "5.00", "5.30", "0.01", "1e8", "0.01")],
            pa.decimal128(18, 2),
        ),
        "status": ["paid"] * 8,
    }
)


def rows(table: ibis.Table, *columns: str) -> list[dict[str, Any]]:
    return list(table.select(*columns).order_by("customer_id").to_pyarrow().to_pylist())


def test_customers_round_trip(any_engine: Engine) -> None:
    assert load_arrow(any_engine, "customers", CUSTOMERS) == 6
    got = rows(any_engine.table("customers"), *CUSTOMERS.column_names, "email")
    expected = sorted(CUSTOMERS.to_pylist(), key=lambda row: row["customer_id"].encode())
    assert got == [{**row, "email": None} for row in expected]


def test_nulls_in_int_decimal_date_round_trip(any_engine: Engine) -> None:
    load_arrow(any_engine, "returns", RETURNS)
    got = rows(any_engine.table("returns"), "customer_id", "quantity", "amount", "local_date")
    assert got == [
        {"customer_id": "B", "quantity": None, "amount": None, "local_date": None},
        {
            "customer_id": "a",
            "quantity": 2,
            "amount": Decimal("12.50"),
            "local_date": dt.date(2024, 3, 1),
        },
        {
            "customer_id": "é",
            "quantity": -1,
            "amount": Decimal("-0.01"),
            "local_date": dt.date(2024, 2, 29),
        },
    ]


def test_append_and_replace(any_engine: Engine) -> None:
    load_arrow(any_engine, "returns", RETURNS)
    load_arrow(any_engine, "returns", RETURNS.slice(0, 1))
    assert any_engine.table("returns").count().to_pyarrow().as_py() == 4
    assert load_arrow(any_engine, "returns", RETURNS.slice(1, 2), mode="replace") == 2
    assert rows(any_engine.table("returns"), "customer_id") == [
        {"customer_id": "B"},
        {"customer_id": "é"},
    ]


def test_unknown_column_is_an_error(any_engine: Engine) -> None:
    with pytest.raises(EngineError, match=r"^customers has no column\(s\) shoe_size$"):
        load_arrow(any_engine, "customers", pa.table({"customer_id": ["a"], "shoe_size": [42]}))


def test_group_sum_and_window_are_identical(any_engine: Engine) -> None:
    load_arrow(any_engine, "orders", ORDERS)
    orders = any_engine.table("orders")
    totals = orders.group_by("customer_id").aggregate(total=orders.amount.sum())
    ranked = totals.mutate(
        position=ibis.row_number().over(order_by=[totals.total, totals.customer_id])
    ).order_by("position")
    assert ranked.to_pyarrow().to_pylist() == [
        {"customer_id": "9", "total": Decimal("0.01"), "position": 0},
        {"customer_id": "Ž", "total": Decimal("0.01"), "position": 1},
        {"customer_id": "B", "total": Decimal("10.30"), "position": 2},
        {"customer_id": "a", "total": Decimal("10.30"), "position": 3},
        {"customer_id": "é", "total": Decimal("10.30"), "position": 4},
        {"customer_id": "10", "total": Decimal("100000000.00"), "position": 5},
    ]


def test_customer_ids_sort_in_byte_order(any_engine: Engine) -> None:
    load_arrow(any_engine, "customers", CUSTOMERS.select(["customer_id"]))
    customers = any_engine.table("customers")
    ordered = customers.order_by("customer_id").customer_id.to_pyarrow().to_pylist()
    assert ordered == IDS_IN_BYTE_ORDER
    assert customers.customer_id.max().to_pyarrow().as_py() == "Ž"
    assert customers.filter(customers.customer_id > "Z").count().to_pyarrow().as_py() == 3


def test_ensure_schema_adds_custom_columns(any_engine: Engine) -> None:
    settings = WorkspaceSettings(
        customer_attributes={"shoe_size": ValueType.NUMBER, "vip_since": ValueType.DATE}
    )
    ensure_schema(any_engine, build_catalog(settings))
    ensure_schema(any_engine, build_catalog(settings))  # idempotent
    columns = any_engine.table("customers").columns
    assert columns[-2:] == ("shoe_size", "vip_since")
    load_arrow(any_engine, "customers", pa.table({"customer_id": ["x"], "shoe_size": [44.5]}))
    assert rows(any_engine.table("customers"), "customer_id", "shoe_size", "vip_since") == [
        {"customer_id": "x", "shoe_size": 44.5, "vip_since": None}
    ]


@pytest.mark.postgres
def test_postgres_byte_order_in_a_non_c_database(
    postgres_url: str, engine_factory: EngineFactory
) -> None:
    """A database whose default collation is ICU en-US still orders ids by bytes."""
    name = "icu_en_us"
    with admin_connection(postgres_url) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.execute(
            f'CREATE DATABASE "{name}" TEMPLATE template0 '
            "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
        )
    from segmentum.engine.connection import connect

    engine = connect(f"{postgres_url.rsplit('/', 1)[0]}/{name}")
    try:
        with engine.backend.con.cursor() as cursor:  # type: ignore[attr-defined]
            values = ", ".join(f"('{value}')" for value in IDS_IN_BYTE_ORDER)
            cursor.execute(f"SELECT x FROM (VALUES {values}) AS v(x) ORDER BY x")
            linguistic = [row[0] for row in cursor.fetchall()]
        assert linguistic != IDS_IN_BYTE_ORDER  # the database itself is not byte order
        ensure_schema(engine, build_catalog(WorkspaceSettings()))
        load_arrow(engine, "customers", CUSTOMERS.select(["customer_id"]))
        ordered = engine.table("customers").order_by("customer_id").customer_id
        assert ordered.to_pyarrow().to_pylist() == IDS_IN_BYTE_ORDER
    finally:
        engine.close()
        with admin_connection(postgres_url) as con:
            con.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_postgres_copy_200k_rows(engine_factory: EngineFactory) -> None:
    engine = engine_factory(EngineKind.POSTGRES)
    n = 200_000
    data = pa.table(
        {
            "order_id": pa.array([f"o{i}" for i in range(n)]),
            "customer_id": pa.array([f"c{i % 5000}" for i in range(n)]),
            "ordered_at": pa.array([dt.datetime(2024, 1, 1)] * n, pa.timestamp("us")),
            "amount": pa.array([Decimal(i % 1000) / 100 for i in range(n)], pa.decimal128(18, 2)),
        }
    )
    started = time.perf_counter()
    assert load_arrow(engine, "orders", data) == n
    seconds = time.perf_counter() - started
    orders = engine.table("orders")
    assert orders.count().to_pyarrow().as_py() == n
    assert orders.amount.sum().to_pyarrow().as_py() == Decimal("999000.00")
    assert seconds < 10, f"COPY of {n} rows took {seconds:.2f} s"


@pytest.mark.postgres
def test_postgres_schema_parameter(postgres_url: str) -> None:
    from segmentum.engine.connection import connect

    engine = connect(f"{postgres_url}?schema=shop")
    try:
        ensure_schema(engine, build_catalog(WorkspaceSettings()))
        load_arrow(engine, "returns", RETURNS)
        with engine.backend.con.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("SELECT count(*) FROM shop.returns")
            assert cursor.fetchone() == (3,)
    finally:
        engine.raw_sql("DROP SCHEMA shop CASCADE")
        engine.close()


@pytest.mark.spark
def test_spark_engines_share_one_jvm_with_separate_databases(
    engine_factory: EngineFactory,
) -> None:
    first = engine_factory(EngineKind.PYSPARK)
    second = engine_factory(EngineKind.PYSPARK)
    session_a = first.backend._session  # type: ignore[attr-defined]
    session_b = second.backend._session  # type: ignore[attr-defined]
    assert session_a.sparkContext is session_b.sparkContext
    assert session_a.catalog.currentDatabase() != session_b.catalog.currentDatabase()
    load_arrow(first, "returns", RETURNS)
    assert second.table("returns").count().to_pyarrow().as_py() == 0
    assert session_a.conf.get("spark.sql.session.timeZone") == "UTC"
    assert session_a.conf.get("spark.sql.shuffle.partitions") == "4"
    assert ibis.options.pyspark.treat_nan_as_null is True
    assert "SELECT" in ibis.to_sql(first.table("returns"), dialect="pyspark")
