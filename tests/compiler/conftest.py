"""An in-memory DuckDB Ibis backend with the catalog tables, filled from small row lists."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
import pytest

from segmentum.catalog.schema import Catalog, build_catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.engine.types import ibis_schema

AS_OF = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
D = date(2024, 5, 10)
LIST_SCHEMA = ibis.schema({"list_name": "string", "customer_id": "string"})

Rows = Sequence[Mapping[str, Any]]
MakeTables = Callable[..., dict[str, Any]]


@pytest.fixture
def settings() -> WorkspaceSettings:
    return WorkspaceSettings()


@pytest.fixture
def catalog(settings: WorkspaceSettings) -> Catalog:
    return build_catalog(settings)


def order(oid: str, cid: str, day: date, amount: str = "10.00", **extra: Any) -> dict[str, Any]:
    """An order at noon UTC of ``day`` (local_date = day in a UTC workspace)."""
    return {
        "order_id": oid,
        "customer_id": cid,
        "ordered_at": datetime(day.year, day.month, day.day, 12),
        "amount": Decimal(amount),
        "local_date": day,
        **extra,
    }


def customer(cid: str, **extra: Any) -> dict[str, Any]:
    return {"customer_id": cid, **extra}


@pytest.fixture
def make_tables(catalog: Catalog) -> Iterator[MakeTables]:
    """``make_tables(customers=[...], orders=[...], ...)`` → name → Ibis table (DuckDB)."""
    connections: list[Any] = []

    def make(**rows: Rows) -> dict[str, Any]:
        con = ibis.duckdb.connect()
        connections.append(con)
        schemas = {name: ibis_schema(table) for name, table in catalog.tables.items()}
        schemas["manual_list_members"] = LIST_SCHEMA
        tables = {}
        for name, schema in schemas.items():
            arrow_schema = schema.to_pyarrow()
            data = rows.get(name, [])
            columns = {
                field.name: pa.array([row.get(field.name) for row in data], type=field.type)
                for field in arrow_schema
            }
            tables[name] = con.create_table(name, pa.table(columns, schema=arrow_schema))
        return tables

    yield make
    for con in connections:
        con.disconnect()


def members(expr: Any, column: str) -> set[str]:
    """customer_ids whose ``column`` is true."""
    rows = expr.to_pyarrow().to_pylist()
    return {row["customer_id"] for row in rows if row[column]}
