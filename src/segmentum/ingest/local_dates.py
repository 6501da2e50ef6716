"""Derived local dates: each activity's date in the workspace timezone, and signup_date."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from segmentum.catalog.schema import Catalog
from segmentum.engine.connection import Engine, EngineKind
from segmentum.ingest.errors import IngestError
from segmentum.ingest.reading import lit, q


def derived_dates(catalog: Catalog) -> list[tuple[str, str, str]]:
    """(table, derived date column, source instant column) for every derived date."""
    found = []
    for table in catalog.tables.values():
        derived = [column.name for column in table.columns if column.derived]
        if derived and table.time_column is not None:
            found.append((table.name, derived[0], table.time_column))
    return found


def rederive_local_dates(engine: Engine, catalog: Catalog, timezone: str) -> None:
    """Recompute every derived local date for ``timezone`` (after a workspace zone change).

    ``(ts AT TIME ZONE 'UTC') AT TIME ZONE zone`` reads the stored UTC instant and gives the
    wall-clock time in ``zone``; DuckDB (ICU) and PostgreSQL both run it.
    """
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise IngestError(f"unknown time zone {timezone!r}") from error
    if engine.kind not in (EngineKind.DUCKDB, EngineKind.POSTGRES):
        raise IngestError(f"re-deriving local dates on {engine.kind.value} is not supported yet")
    for table, column, source in derived_dates(catalog):
        if not engine.has_table(table):
            continue
        engine.raw_sql(
            f"UPDATE {q(table)} SET {q(column)} = CAST((({q(source)} AT TIME ZONE 'UTC') "
            f"AT TIME ZONE {lit(timezone)}) AS DATE)"
        )
