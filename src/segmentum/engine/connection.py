"""Data engines by URL: one Ibis connection, plus the few facts that differ per engine."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import ibis
from ibis.backends import BaseBackend

from segmentum.catalog.schema import Catalog
from segmentum.catalog.types import ValueType
from segmentum.engine.types import IBIS_TYPES, ibis_schema

DEFAULT_DB = "segmentum.duckdb"


class EngineError(Exception):
    """A data engine cannot be reached or used; the message is for the user."""


class EngineKind(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    PYSPARK = "pyspark"


@dataclass
class Engine:
    url: str
    kind: EngineKind
    backend: BaseBackend
    #: For DuckDB, the database file (None for :memory:).
    path: Path | None = None

    @property
    def dialect(self) -> str:
        return self.kind.value

    def table(self, name: str) -> ibis.Table:
        return self.backend.table(name)

    def has_table(self, name: str) -> bool:
        return name in self.backend.list_tables()

    def raw_sql(self, sql: str, params: tuple[Any, ...] | None = None) -> Any:
        """Run engine-specific DDL that Ibis does not model (never with user values as text)."""
        if self.kind is EngineKind.DUCKDB:
            return self.backend.con.execute(sql, params or ())  # type: ignore[attr-defined]
        if self.kind is EngineKind.POSTGRES:
            with self.backend.con.cursor() as cursor:  # type: ignore[attr-defined]
                cursor.execute(sql, params)
            self.backend.con.commit()  # type: ignore[attr-defined]
            return None
        return self.backend._session.sql(sql)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.backend.disconnect()


def _duckdb(url: str, path_text: str) -> Engine:
    import duckdb

    if path_text in ("", ":memory:"):
        return Engine(url, EngineKind.DUCKDB, ibis.duckdb.connect(), None)
    path = Path(path_text)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        backend = ibis.duckdb.connect(str(path))
    except duckdb.IOException as error:
        holder = re.search(r"PID (\d+)", str(error))
        who = f"process {holder.group(1)}" if holder else "another process"
        raise EngineError(
            f"{path} is in use by {who}; DuckDB allows one writing process "
            "(stop it, or use the server while it runs)"
        ) from error
    return Engine(url, EngineKind.DUCKDB, backend, path)


def _postgres(url: str) -> Engine:
    parsed = urlparse(url)
    try:
        backend = ibis.postgres.connect(
            host=parsed.hostname or "localhost",
            port=parsed.port or 5432,
            user=unquote(parsed.username) if parsed.username else os.environ.get("PGUSER"),
            password=unquote(parsed.password) if parsed.password else os.environ.get("PGPASSWORD"),
            database=parsed.path.lstrip("/") or "postgres",
        )
    except Exception as error:  # psycopg raises several classes; all mean "cannot connect"
        safe = parsed._replace(netloc=parsed.hostname or "").geturl()
        raise EngineError(f"cannot connect to PostgreSQL at {safe}: {error}") from error
    return Engine(url, EngineKind.POSTGRES, backend)


def connect(url: str | None = None) -> Engine:
    """Open the data engine named by a path or URL (default ./segmentum.duckdb)."""
    url = url or os.environ.get("SEGMENTUM_DB") or DEFAULT_DB
    if "://" not in url:
        return _duckdb(url, url)
    scheme = url.split("://", 1)[0].lower()
    if scheme == "duckdb":
        return _duckdb(url, url.split("://", 1)[1])
    if scheme in ("postgres", "postgresql"):
        return _postgres(url)
    if scheme == "pyspark":
        from segmentum.engine.spark import connect_spark

        return connect_spark(url)
    raise EngineError(f"unknown engine URL scheme {scheme!r}; use a path, duckdb://, postgres://")


def _sql_type(engine: Engine, value_type: ValueType) -> str:
    from ibis.backends.sql.datatypes import DuckDBType, PostgresType, PySparkType

    mapper = {
        EngineKind.DUCKDB: (DuckDBType, "duckdb"),
        EngineKind.POSTGRES: (PostgresType, "postgres"),
        EngineKind.PYSPARK: (PySparkType, "spark"),
    }[engine.kind]
    return str(mapper[0].from_ibis(IBIS_TYPES[value_type]).sql(mapper[1]))


def ensure_schema(engine: Engine, catalog: Catalog) -> None:
    """Create missing catalog tables and add missing (custom) columns; never drops anything."""
    existing = set(engine.backend.list_tables())
    for table in catalog.tables.values():
        if table.name not in existing:
            engine.backend.create_table(table.name, schema=ibis_schema(table))
            continue
        present = set(engine.table(table.name).columns)
        for column in table.columns:
            if column.name not in present:
                sql_type = _sql_type(engine, column.type)
                engine.raw_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {sql_type}')
