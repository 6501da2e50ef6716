"""Warehouse mode: catalog-shaped Ibis tables over the business's own tables and Parquet files.

A mapped catalog table (``settings.table_mappings``, model in ``segmentum.catalog.mapping``) is
an Ibis projection over its source, never a copy: each catalog column is the source column
renamed and cast to the catalog type, and the derived local dates (``local_date``,
``signup_date``) are computed in the engine from the mapped UTC instant in the workspace
timezone. The compiler receives these projections exactly as it receives Segmentum's own
tables, so it stays engine-neutral; everything engine-specific is here:

- **Sources.** A table or view (``schema.table``: a PostgreSQL schema, a DuckDB schema, a Spark
  database) or a Parquet file/folder, Hive partitions (``year=2024/``) becoming columns: DuckDB
  ``read_parquet(..., hive_partitioning = true)`` as a temporary view, Spark
  ``spark.read.parquet`` (partition discovery) as a temporary view. PostgreSQL cannot read
  Parquet: such a mapping is a problem reported by ``check_mapping``.
- **Instants.** A timestamp with time zone becomes the naive UTC instant the catalog uses
  (DuckDB/PostgreSQL ``timezone('UTC', ts)``; Spark has one timestamp type, read in the
  session zone, which Segmentum pins to UTC). A naive timestamp is taken as UTC already.
- **Local dates.** DuckDB and PostgreSQL: ``timezone(zone, timezone('UTC', ts))`` (the same as
  ``(ts AT TIME ZONE 'UTC') AT TIME ZONE zone``), Spark: ``from_utc_timestamp(ts, zone)``;
  then a cast to DATE. Both apply the IANA rules of the day, so a DST change moves the local
  date exactly as the importer's zoneinfo does.
- **Byte order.** On PostgreSQL every text column gets ``COLLATE "C"``, as ``ensure_schema``
  declares it for Segmentum's own tables, so ids sort identically on every engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.rules as rlz
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from segmentum.catalog.mapping import TableMapping
from segmentum.catalog.schema import Catalog
from segmentum.catalog.tables import Column, Table
from segmentum.catalog.types import ValueType
from segmentum.engine.connection import TEXT_TYPES, Engine, EngineError, EngineKind
from segmentum.engine.types import IBIS_TYPES, MONEY

INSTANT = dt.Timestamp(scale=6)
#: Integer digits DECIMAL(18,2) holds; a source decimal with more may overflow.
MONEY_INTEGER_DIGITS = MONEY.precision - MONEY.scale


class SourceError(EngineError):
    """A mapped source cannot be opened (missing table, no Parquet files, wrong engine)."""


# --- engine-specific time-zone functions (builtins of each engine) -----------------------------


def _timezone_to_instant(zone: str, wall_clock: Any) -> Any:  # pragma: no cover - SQL only
    """timezone(zone, TIMESTAMP) -> TIMESTAMPTZ: the wall clock read in ``zone``."""


def _timezone_to_wall_clock(zone: str, instant: Any) -> Any:  # pragma: no cover - SQL only
    """timezone(zone, TIMESTAMPTZ) -> TIMESTAMP: the instant's wall clock in ``zone``."""


def _from_utc_timestamp(instant: Any, zone: str) -> Any:  # pragma: no cover - SQL only
    """Spark's from_utc_timestamp(ts, zone): the UTC instant's wall clock in ``zone``."""


_to_instant = ibis.udf.scalar.builtin(
    _timezone_to_instant,
    name="timezone",
    signature=((dt.string, dt.Timestamp()), dt.Timestamp(timezone="UTC", scale=6)),
)
_to_wall_clock = ibis.udf.scalar.builtin(
    _timezone_to_wall_clock,
    name="timezone",
    signature=((dt.string, dt.Timestamp(timezone="UTC")), INSTANT),
)
_spark_from_utc = ibis.udf.scalar.builtin(
    _from_utc_timestamp,
    name="from_utc_timestamp",
    signature=((dt.Timestamp(), dt.string), INSTANT),
)


class ByteOrderText(ops.Value):  # type: ignore[misc]
    """A text value compared in byte order: ``COLLATE "C"`` on PostgreSQL."""

    arg: ops.Value[dt.String]
    dtype = dt.string
    shape = rlz.shape_like("arg")


def _visit_byte_order(self: Any, op: Any, *, arg: Any) -> Any:
    return sge.Collate(this=arg, expression=sg.to_identifier("C", quoted=True))


def _register_postgres_ops() -> None:
    from ibis.backends.sql.compilers.postgres import PostgresCompiler

    PostgresCompiler.visit_ByteOrderText = _visit_byte_order


_register_postgres_ops()


def utc_instant(kind: EngineKind, value: ir.TimestampValue) -> ir.TimestampValue:
    """A timestamp (with or without zone) as the catalog's naive UTC instant."""
    dtype = value.type()
    if dtype.timezone is not None and kind is not EngineKind.PYSPARK:
        result: ir.TimestampValue = _to_wall_clock("UTC", value)
        return result
    if dtype.timezone is not None or dtype.scale not in (None, 6):
        return value.cast(INSTANT)
    return value


def local_date(kind: EngineKind, instant: ir.TimestampValue, zone: str) -> ir.DateValue:
    """The naive UTC ``instant``'s date in the IANA ``zone``, computed by the engine."""
    if zone == "UTC":
        return instant.date()
    if kind is EngineKind.PYSPARK:
        wall_clock = _spark_from_utc(instant, zone)
    else:
        wall_clock = _to_wall_clock(zone, _to_instant("UTC", instant))
    result: ir.DateValue = wall_clock.cast(dt.date)
    return result


def byte_order(kind: EngineKind, value: ir.StringValue) -> ir.StringValue:
    if kind is EngineKind.POSTGRES:
        result: ir.StringValue = ByteOrderText(value).to_expr()
        return result
    return value


# --- type rules: which source types become which catalog type -----------------------------------


def conversion_problem(source: dt.DataType, target: ValueType) -> str | None:
    """Why a source column of type ``source`` cannot feed a catalog ``target`` (None: it can)."""
    if target in (ValueType.TEXT, ValueType.JSON):
        ok = source.is_string() or source.is_integer() or source.is_uuid() or source.is_json()
    elif target is ValueType.INTEGER:
        ok = source.is_integer() or (source.is_decimal() and source.scale == 0)
    elif target is ValueType.NUMBER:
        ok = source.is_numeric()
    elif target is ValueType.MONEY:
        if source.is_floating():
            return "floating-point money is not exact on every engine; use a DECIMAL column"
        if source.is_decimal():
            precision = source.precision or 38
            scale = source.scale or 0
            if precision - scale > MONEY_INTEGER_DIGITS:
                return (
                    f"{source} may hold values beyond DECIMAL(18,2) "
                    f"(more than {MONEY_INTEGER_DIGITS} integer digits)"
                )
            return None
        ok = source.is_integer()
    elif target is ValueType.BOOL:
        ok = source.is_boolean()
    elif target is ValueType.DATE:
        ok = source.is_date()
    elif target is ValueType.TIMESTAMP:
        ok = source.is_timestamp()
    elif target is ValueType.TEXT_LIST:
        ok = source.is_array() and source.value_type.is_string()
    else:  # pragma: no cover - every ValueType is handled above
        ok = False
    return None if ok else f"{source} cannot become {target.value}"


def convert(kind: EngineKind, value: ir.Value, target: ValueType) -> ir.Value:
    """``value`` renamed-to-be, cast to the catalog type (call after ``conversion_problem``)."""
    source = value.type()
    if target is ValueType.TIMESTAMP:
        return utc_instant(kind, value)
    wanted = IBIS_TYPES[target]
    if target in TEXT_TYPES:
        text = value if source.is_string() else value.cast(dt.string)
        return byte_order(kind, text)
    if target is ValueType.TEXT_LIST:
        return value
    if source.copy(nullable=True) == wanted:
        return value
    return value.cast(wanted)


def null_of(kind: EngineKind, target: ValueType) -> ir.Value:
    value = ibis.null().cast(IBIS_TYPES[target])
    if target in TEXT_TYPES:
        return byte_order(kind, value)
    return value


# --- sources ----------------------------------------------------------------------------------


def native_catalog(catalog: Catalog, mappings: Mapping[str, TableMapping]) -> Catalog:
    """The catalog without its mapped tables: what ``ensure_schema`` may create and alter."""
    tables = {name: table for name, table in catalog.tables.items() if name not in mappings}
    return replace(catalog, tables=tables)


def parquet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*.parquet") if p.is_file())
    return []


def open_source(engine: Engine, table: str, mapping: TableMapping) -> ir.Table:
    """The mapped source as an Ibis table with the business's own columns and types."""
    parquet = mapping.parquet
    if parquet is not None:
        if engine.kind is EngineKind.POSTGRES:
            raise SourceError(
                "PostgreSQL cannot read Parquet files; load them into a table and map "
                "the table, or use DuckDB or Spark as the data engine"
            )
        path = Path(parquet.parquet).expanduser()
        view = f"_segmentum_mapped_{table}"
        remote = "://" in parquet.parquet
        if not remote and not parquet_files(path):
            raise SourceError(f"no Parquet files at {path}")
        try:
            if engine.kind is EngineKind.DUCKDB:
                target = str(path) if remote or path.is_file() else str(path / "**" / "*.parquet")
                source: ir.Table = engine.backend.read_parquet(
                    target, table_name=view, hive_partitioning=parquet.hive_partitioning
                )
                return source
            location = parquet.parquet if remote else str(path.resolve())
            return engine.backend.read_parquet(location, table_name=view)
        except Exception as error:  # each engine raises its own classes; all mean "unreadable"
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise SourceError(f"cannot read Parquet at {parquet.parquet}: {first}") from error
    name = mapping.table_name
    assert name is not None
    schema = mapping.source_schema
    try:
        listed = engine.backend.list_tables(database=schema) if schema else None
    except Exception as error:
        raise SourceError(f"schema {schema!r} does not exist on {engine.kind.value}") from error
    if listed is not None and name not in listed:
        raise SourceError(f"no table or view {mapping.source} on {engine.kind.value}")
    try:
        source = engine.backend.table(name, database=schema) if schema else engine.table(name)
    except Exception as error:
        raise SourceError(f"no table or view {mapping.source} on {engine.kind.value}") from error
    return source


def shape_column(
    kind: EngineKind,
    source: ir.Table,
    table: Table,
    column: Column,
    mapping: TableMapping,
    timezone: str,
) -> ir.Value:
    """One catalog column over the source (the mapping was checked)."""
    if column.derived:
        assert table.time_column is not None
        instant = shape_column(
            kind, source, table, table.column(table.time_column), mapping, timezone
        )
        return local_date(kind, instant, timezone)
    name = mapping.source_column(column.name)
    if name is None or name not in source.columns:
        return null_of(kind, column.type)
    return convert(kind, source[name], column.type)


def shape(
    kind: EngineKind, source: ir.Table, table: Table, mapping: TableMapping, timezone: str
) -> ir.Table:
    """The catalog table ``table`` as a projection of ``source``: names, order and types."""
    columns = {
        column.name: shape_column(kind, source, table, column, mapping, timezone).name(column.name)
        for column in table.columns
    }
    return source.select(**columns)
