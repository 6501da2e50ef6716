"""Checking a warehouse mapping against the live schema: every problem at once.

``check_mapping(engine, catalog, settings)`` opens every mapped source and compares it with the
catalog: the source must exist (and be readable by the engine), every catalog column must
have a source column of a convertible type (or be declared absent, ``null``, when optional),
the mapping may name only catalog columns, and derived dates are never mapped. With
``data=True`` (``segmentum workspace check``) it also scans the key columns once per table:
NULL keys and duplicate keys, counted exactly on the catalog-shaped table (one aggregate per
table). Without it only metadata is read: that is the guard that runs before every
evaluation (``mapped_tables``), so no segment is evaluated over a broken mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from segmentum.catalog.mapping import TableMapping
from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.tables import Table
from segmentum.engine.connection import Engine, EngineError
from segmentum.engine.mapped import SourceError, conversion_problem, open_source, shape
from segmentum.engine.types import IBIS_TYPES


@dataclass(frozen=True)
class MappingProblem:
    """One mismatch between a mapping and the live source."""

    table: str
    column: str | None
    #: missing_source, missing_column, wrong_type, unknown_column, derived_column,
    #: nullable_key, null_key, duplicate_key
    kind: str
    expected: str
    found: str
    source: str

    @property
    def message(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return (
            f"{where} ({self.source}): {self.kind.replace('_', ' ')}: "
            f"expected {self.expected}, found {self.found}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


class MappingError(EngineError):
    """A mapping does not fit the live schema; ``problems`` names every mismatch."""

    def __init__(self, problems: list[MappingProblem]) -> None:
        self.problems = problems
        listed = "; ".join(problem.message for problem in problems)
        super().__init__(f"the warehouse mapping has {len(problems)} problem(s): {listed}")


def _key_columns(table: Table) -> tuple[str, ...]:
    """Columns that must never be NULL: the key and the record's customer."""
    names = list(table.key)
    if table.customer_column and table.customer_column not in names:
        names.append(table.customer_column)
    return tuple(names)


def schema_problems(
    table: Table, mapping: TableMapping, source_schema: ibis.Schema
) -> list[MappingProblem]:
    """Every mismatch of one mapping with its source's schema (no data read)."""
    where = mapping.describe_source()
    problems: list[MappingProblem] = []
    for name in mapping.columns:
        if not table.has_column(name):
            problems.append(
                MappingProblem(
                    table.name,
                    name,
                    "unknown_column",
                    f"a column of {table.name} ({', '.join(table.column_names)})",
                    f"mapping for {name!r}",
                    where,
                )
            )
        elif table.column(name).derived:
            problems.append(
                MappingProblem(
                    table.name,
                    name,
                    "derived_column",
                    f"no mapping (computed from {table.time_column} in the workspace timezone)",
                    f"mapped to {mapping.columns[name]!r}",
                    where,
                )
            )
    keys = _key_columns(table)
    for column in table.columns:
        if column.derived:
            continue
        source_name = mapping.source_column(column.name)
        expected = f"{column.type.value} ({IBIS_TYPES[column.type]})"
        needed = column.required or column.name in keys
        if source_name is None:
            if needed:
                problems.append(
                    MappingProblem(
                        table.name,
                        column.name,
                        "missing_column",
                        f"a source column for required {column.name}",
                        "declared absent (null)",
                        where,
                    )
                )
            continue
        if source_name not in source_schema:
            if needed or not mapping.fill_missing:
                hint = "" if needed else " (or map it to null, or set fill_missing)"
                problems.append(
                    MappingProblem(
                        table.name,
                        column.name,
                        "missing_column",
                        f"source column {source_name!r}{hint}",
                        "no such column; source has " + ", ".join(source_schema.names),
                        where,
                    )
                )
            continue
        found = source_schema[source_name]
        reason = conversion_problem(found, column.type)
        if reason is not None:
            problems.append(
                MappingProblem(
                    table.name, column.name, "wrong_type", expected, f"{found}: {reason}", where
                )
            )
    return problems


def data_problems(table: Table, mapping: TableMapping, shaped: ir.Table) -> list[MappingProblem]:
    """NULL and duplicate keys, counted on the catalog-shaped table in one aggregate."""
    where = mapping.describe_source()
    keys = _key_columns(table)
    metrics = {"_rows": shaped.count()}
    for name in keys:
        metrics[f"_null_{name}"] = shaped[name].isnull().sum()
    counts = shaped.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    problems = [
        MappingProblem(
            table.name,
            name,
            "null_key",
            "no NULL values (a key or customer column)",
            f"{int(counts[f'_null_{name}'])} NULL row(s) of {int(counts['_rows'])}",
            where,
        )
        for name in keys
        if int(counts[f"_null_{name}"] or 0) > 0
    ]
    distinct = int(shaped.select(*table.key).distinct().count().to_pyarrow().as_py())
    rows = int(counts["_rows"])
    if distinct < rows:
        problems.append(
            MappingProblem(
                table.name,
                ", ".join(table.key),
                "duplicate_key",
                f"one row per ({', '.join(table.key)})",
                f"{rows - distinct} duplicate row(s) among {rows}",
                where,
            )
        )
    return problems


@dataclass
class MappingReport:
    problems: list[MappingProblem]
    #: The catalog-shaped tables of the mappings without schema problems.
    tables: dict[str, ir.Table]


def resolve_mapping(
    engine: Engine, catalog: Catalog, settings: WorkspaceSettings, *, data: bool = False
) -> MappingReport:
    """Open and check every mapped table; shape those that fit."""
    problems: list[MappingProblem] = []
    tables: dict[str, ir.Table] = {}
    for name, mapping in settings.table_mappings.items():
        table = catalog.table(name)
        try:
            source = open_source(engine, name, mapping)
        except SourceError as error:
            problems.append(
                MappingProblem(
                    name,
                    None,
                    "missing_source",
                    "a readable table, view or Parquet folder",
                    str(error),
                    mapping.describe_source(),
                )
            )
            continue
        found = schema_problems(table, mapping, source.schema())
        problems.extend(found)
        if found:
            continue
        shaped = shape(engine.kind, source, table, mapping, settings.timezone)
        if data:
            problems.extend(data_problems(table, mapping, shaped))
        tables[name] = shaped
    return MappingReport(problems, tables)


def check_mapping(
    engine: Engine, catalog: Catalog, settings: WorkspaceSettings, *, data: bool = True
) -> list[MappingProblem]:
    """Every mismatch of the workspace's mapping with the live schema (and data)."""
    return resolve_mapping(engine, catalog, settings, data=data).problems


def mapped_tables(
    engine: Engine, catalog: Catalog, settings: WorkspaceSettings
) -> Mapping[str, ir.Table]:
    """The catalog-shaped mapped tables; ``MappingError`` (every problem) when one does not fit."""
    report = resolve_mapping(engine, catalog, settings, data=False)
    if report.problems:
        raise MappingError(report.problems)
    return report.tables
