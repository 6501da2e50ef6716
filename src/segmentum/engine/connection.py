"""Data engines by URL: one Ibis connection, plus the few facts that differ per engine."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import ibis
import sqlglot as sg
from ibis.backends import BaseBackend

from segmentum.catalog.schema import Catalog
from segmentum.catalog.tables import Column
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
    #: The URL without its password: safe to show and log.
    url: str
    kind: EngineKind
    backend: BaseBackend
    #: For DuckDB, the database file (None for :memory:).
    path: Path | None = None
    #: The URL as given (may hold a password); never shown.
    secret_url: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.secret_url:
            self.secret_url = self.url
        self.url = redact_url(self.url)

    @property
    def dialect(self) -> str:
        return self.kind.value

    @property
    def sqlglot_dialect(self) -> str:
        return "spark" if self.kind is EngineKind.PYSPARK else self.kind.value

    def quote(self, identifier: str) -> str:
        """An identifier quoted for this engine (\"x\" or `x`)."""
        return str(sg.to_identifier(identifier, quoted=True).sql(self.sqlglot_dialect))

    def table(self, name: str) -> ibis.Table:
        return self.backend.table(name)

    def has_table(self, name: str) -> bool:
        return name in self.backend.list_tables()

    def raw_sql(self, sql: str, params: tuple[Any, ...] | None = None) -> Any:
        """Run engine-specific DDL that Ibis does not model (never with user values as text)."""
        if self.kind is EngineKind.DUCKDB:
            return self.backend.con.execute(sql, params or ())
        if self.kind is EngineKind.POSTGRES:
            with self.backend.con.cursor() as cursor:
                cursor.execute(sql, params)
            self.backend.con.commit()
            return None
        session = self.backend._session
        return session.sql(sql, args=list(params)) if params else session.sql(sql)

    def close(self) -> None:
        if self.kind is EngineKind.PYSPARK:
            return  # the session shares the process JVM; segmentum.engine.spark.stop_spark ends it
        self.backend.disconnect()


_CREDENTIALS = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@:?#]*):[^@/?#]*@")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    return _CREDENTIALS.sub(r"\g<head>:***@", url, count=1)


#: DuckDB's buffer limit, e.g. ``8GB``. DuckDB's own default is 80% of the machine's memory,
#: which is too much on a machine it shares (a 5M-customer refresh was OOM-killed at 18.7 GB
#: next to other work); under the limit DuckDB spills joins, aggregates and sorts to the
#: temporary directory (``<database>.tmp`` next to a file workspace) instead.
DUCKDB_MEMORY_ENV = "SEGMENTUM_DUCKDB_MEMORY_LIMIT"
_MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def duckdb_memory_limit() -> str | None:
    """The configured limit, checked (it becomes a SET statement's value)."""
    value = os.environ.get(DUCKDB_MEMORY_ENV, "").strip()
    if not value:
        return None
    if not _MEMORY_SIZE.fullmatch(value):
        raise EngineError(f"{DUCKDB_MEMORY_ENV}={value!r}: expected a size such as 8GB or 512MB")
    return value


def _duckdb(url: str, path_text: str) -> Engine:
    import duckdb

    limit = duckdb_memory_limit()
    if path_text in ("", ":memory:"):
        backend = ibis.duckdb.connect()
        path = None
    else:
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
    if limit is not None:
        backend.con.execute(f"SET memory_limit = '{limit}'")  # checked by the pattern above
    return Engine(url, EngineKind.DUCKDB, backend, path)


PG_CONNECT_TIMEOUT = 10


def _postgres(url: str) -> Engine:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    unknown = sorted(set(query) - {"schema", "sslmode"})
    if unknown:
        raise EngineError(f"unknown PostgreSQL URL parameter(s): {', '.join(unknown)}")
    schema = query["schema"][-1] if "schema" in query else None
    if schema is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise EngineError(f"invalid PostgreSQL schema name {schema!r} (letters, digits, _)")
    host = parsed.hostname or "localhost"
    try:
        port = parsed.port or 5432
    except ValueError as error:
        raise EngineError(f"invalid port in PostgreSQL URL for host {host}") from error
    database = unquote(parsed.path.lstrip("/")) or "postgres"
    password = unquote(parsed.password) if parsed.password else os.environ.get("PGPASSWORD")
    extra: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT}
    if "sslmode" in query:
        extra["sslmode"] = query["sslmode"][-1]
    try:
        backend = ibis.postgres.connect(
            host=host,
            port=port,
            user=unquote(parsed.username) if parsed.username else os.environ.get("PGUSER"),
            password=password,
            database=database,
            schema=schema,
            **extra,
        )
    except Exception as error:  # psycopg raises several classes; all mean "cannot connect"
        reason = " ".join(str(error).split())
        if password:
            reason = reason.replace(password, "***")
        raise EngineError(
            f"cannot connect to PostgreSQL at {host}:{port}/{database}: {reason}"
        ) from None
    if schema is not None:
        with backend.con.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
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
    raise EngineError(
        f"unknown engine URL scheme {scheme!r}; use a path, duckdb://, postgres:// or pyspark://"
    )


def _sql_type(engine: Engine, value_type: ValueType) -> str:
    from ibis.backends.sql.datatypes import DuckDBType, PostgresType, PySparkType

    mapper = {
        EngineKind.DUCKDB: (DuckDBType, "duckdb"),
        EngineKind.POSTGRES: (PostgresType, "postgres"),
        EngineKind.PYSPARK: (PySparkType, "spark"),
    }[engine.kind]
    return str(mapper[0].from_ibis(IBIS_TYPES[value_type]).sql(mapper[1]))


def _column_sql(engine: Engine, value_type: ValueType) -> str:
    sql_type = _sql_type(engine, value_type)
    if engine.kind is EngineKind.POSTGRES and value_type in TEXT_TYPES:
        sql_type += ' COLLATE "C"'
    return sql_type


#: Value types stored as text; on PostgreSQL they get byte-order ("C") collation.
TEXT_TYPES = frozenset({ValueType.TEXT, ValueType.JSON})


def ensure_schema(engine: Engine, catalog: Catalog) -> None:
    """Create missing catalog tables and add missing (custom) columns; never drops anything.

    On PostgreSQL every text column is declared ``COLLATE "C"`` so ORDER BY, MIN/MAX and
    comparisons on ids follow byte order as on DuckDB and Spark, whatever the database locale.
    """
    existing = set(engine.backend.list_tables())
    for table in catalog.tables.values():
        name = engine.quote(table.name)
        if table.name not in existing:
            engine.backend.create_table(table.name, schema=ibis_schema(table))
            present = set(table.column_names)
        else:
            present = set(engine.table(table.name).columns)
        added = [column for column in table.columns if column.name not in present]
        if added and engine.kind is EngineKind.PYSPARK:
            columns = ", ".join(
                f"{engine.quote(column.name)} {_column_sql(engine, column.type)}"
                for column in added
            )
            engine.raw_sql(f"ALTER TABLE {name} ADD COLUMNS ({columns})")
        else:
            for column in added:
                engine.raw_sql(
                    f"ALTER TABLE {name} ADD COLUMN {engine.quote(column.name)} "
                    f"{_column_sql(engine, column.type)}"
                )
        if engine.kind is EngineKind.POSTGRES:
            _collate_text_columns(engine, table.name, table.columns)


def _collate_text_columns(engine: Engine, table: str, columns: tuple[Column, ...]) -> None:
    text_columns = [column.name for column in columns if column.type in TEXT_TYPES]
    rows = engine.backend.con.execute(
        "SELECT column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    collations = dict(rows)
    wrong = [name for name in text_columns if collations.get(name) != "C"]
    if wrong:
        changes = ", ".join(
            f'ALTER COLUMN {engine.quote(name)} TYPE text COLLATE "C"' for name in wrong
        )
        engine.raw_sql(f"ALTER TABLE {engine.quote(table)} {changes}")
