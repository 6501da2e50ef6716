"""Engines for the corpus: a connection per engine name and a loader of plain shop rows.

Adding an engine is one entry in ``CONNECTORS`` (a function returning an Ibis backend); the
loader is shared: it creates the catalog tables from ``ibis_schema`` and inserts Arrow tables,
deriving ``local_date`` / ``signup_date`` from the UTC instants with zoneinfo, as an import
would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pyarrow as pa
from ibis.backends import BaseBackend

from segmentum.catalog.schema import Catalog
from segmentum.catalog.tables import Table
from segmentum.compiler.predictive import PREDICTIONS_TABLE
from segmentum.engine.bulk import load_arrow
from segmentum.engine.connection import Engine
from segmentum.engine.types import ibis_schema
from segmentum.service.clv import STORED_SCHEMA

MANUAL_LIST_SCHEMA = ibis.schema({"list_name": "string", "customer_id": "string"})
#: The stored CLV predictions, as ``segmentum clv`` creates them (service.clv.STORED_SCHEMA).
PREDICTIONS_SCHEMA = ibis.Schema.from_pyarrow(STORED_SCHEMA)
#: Tables that are not catalog tables, with their schemas.
EXTRA_TABLES: dict[str, ibis.Schema] = {
    "manual_list_members": MANUAL_LIST_SCHEMA,
    PREDICTIONS_TABLE: PREDICTIONS_SCHEMA,
}
#: Tables whose derived local date comes from which instant.
LOCAL_DATES: dict[str, tuple[str, str]] = {
    "customers": ("signup_at", "signup_date"),
    "orders": ("ordered_at", "local_date"),
    "returns": ("returned_at", "local_date"),
    "events": ("occurred_at", "local_date"),
}


ENGINES: tuple[str, ...] = ("duckdb", "postgres", "pyspark")


def _local_date(instant: datetime | None, zone: ZoneInfo) -> date | None:
    if instant is None:
        return None
    return instant.replace(tzinfo=UTC).astimezone(zone).date()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal | date):
        return str(value)
    raise TypeError(value)


@dataclass
class EngineWorkspace:
    """One engine connection holding the catalog tables, reloadable per shop."""

    engine: str
    connection: Engine
    catalog: Catalog
    table_names: list[str] = field(default_factory=list)
    loaded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def backend(self) -> BaseBackend:
        return self.connection.backend

    def create(self) -> None:
        """The catalog tables exist already (ensure_schema); add the manual lists table and
        the stored CLV predictions table (which ``segmentum clv`` creates on first store)."""
        self.table_names.extend(self.catalog.tables)
        for name, schema in EXTRA_TABLES.items():
            self.backend.create_table(name, schema=schema, overwrite=True)
            self.table_names.append(name)

    @property
    def tables(self) -> dict[str, ibis.Table]:
        return {name: self.backend.table(name) for name in self.table_names}

    def load(self, data: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Replace every table's rows with ``data``'s (missing tables become empty)."""
        zone = ZoneInfo(self.catalog.timezone)
        for name in self.table_names:
            if name in EXTRA_TABLES:
                schema = EXTRA_TABLES[name]
                columns: Iterable[str] = schema.names
            else:
                table: Table = self.catalog.table(name)
                schema = ibis_schema(table)
                columns = table.column_names
            rows = []
            for source in data.get(name, ()):
                row = {column: source.get(column) for column in columns}
                if name in LOCAL_DATES:
                    instant, derived = LOCAL_DATES[name]
                    row[derived] = _local_date(source.get(instant), zone)
                if name == "events":
                    properties = {
                        key: value
                        for key, value in source.items()
                        if key not in ("event_id", "customer_id", "type", "occurred_at")
                    }
                    row["properties"] = json.dumps(properties, default=_json_default)
                rows.append(row)
            if self.loaded.get(name) == rows:
                continue  # unchanged since the last load (saves time in property tests)
            self.loaded[name] = rows
            arrow = pa.Table.from_pylist(rows, schema=schema.to_pyarrow())
            load_arrow(self.connection, name, arrow, mode="replace")


def open_workspace(engine: str, connection: Engine, catalog: Catalog) -> EngineWorkspace:
    workspace = EngineWorkspace(engine, connection, catalog)
    workspace.create()
    return workspace


def true_sets(result: ibis.Table, names: Iterable[str]) -> tuple[dict[str, set[str]], list[str]]:
    """Per boolean column the ids where it is true, and the columns holding a NULL."""
    rows = result.to_pyarrow().to_pylist()
    members: dict[str, set[str]] = {}
    with_nulls: list[str] = []
    for name in names:
        members[name] = {row["customer_id"] for row in rows if row[name] is True}
        if any(row[name] is None for row in rows):
            with_nulls.append(name)
    return members, with_nulls
