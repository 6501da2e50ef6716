"""Use case: import a file into a warehouse table, recording the import and its quarantine."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from segmentum.engine.connection import EngineKind
from segmentum.ingest.importer import ImportOptions, ImportResult, ImportSummary
from segmentum.ingest.importer import import_file as ingest_file
from segmentum.ingest.mapping import (
    MAPPING_FILE_OPTIONS,
    load_mapping_file,
    parse_map_options,
    save_mapping_file,
)
from segmentum.ingest.rates import load_rates
from segmentum.ingest.validate import REASONS
from segmentum.service.workspace import Workspace

__all__ = [
    "MAPPING_FILE_OPTIONS",
    "REASONS",
    "ImportOptions",
    "ImportSummary",
    "import_file",
    "load_mapping_file",
    "load_rates",
    "parse_map_options",
    "save_mapping_file",
]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _record(ws: Workspace, import_id: str, started_at: datetime, result: ImportResult) -> None:
    summary = result.summary
    store = ws.store
    recorded_at = _now()
    store.execute(
        "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            import_id,
            summary.table,
            summary.source,
            started_at,
            recorded_at,
            summary.loaded,
            summary.updated,
            summary.unchanged,
            summary.rejected,
        ),
    )
    if not result.rejected.num_rows:
        return
    rejected = result.rejected
    reasons = pa.array(
        [";".join(codes) for codes in rejected.column("reasons").to_pylist()], pa.string()
    )
    rows = pa.table(
        {
            "row_number": rejected.column("row_number"),
            "reasons": reasons,
            "raw": rejected.column("raw"),
        }
    )
    if store.kind is EngineKind.DUCKDB:
        con: Any = store.connection
        name = "__quarantine_" + import_id.replace("-", "")
        con.register(name, rows)
        try:
            con.execute(
                f"INSERT INTO quarantine SELECT ?, ?, ?, row_number, reasons, raw, ? FROM {name}",
                [import_id, summary.table, summary.source, recorded_at],
            )
        finally:
            con.unregister(name)
        return
    store.executemany(
        "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                import_id,
                summary.table,
                summary.source,
                row["row_number"],
                row["reasons"],
                row["raw"],
                recorded_at,
            )
            for row in rows.to_pylist()
        ],
    )


def import_file(
    ws: Workspace,
    table: str,
    path: Path,
    options: ImportOptions,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import ``path`` into ``table``; bad rows go to the quarantine table and a rejects file.

    The load, the ``imports`` row and the quarantine rows commit together when the app store
    shares the data engine's database (the default: the same DuckDB file or PostgreSQL
    database).
    """
    import_id = str(uuid.uuid4())
    started_at = _now()
    shared = ws.store.connection is getattr(ws.engine.backend, "con", None)

    def record(result: ImportResult) -> None:
        if not shared:
            return
        if ws.store.kind is EngineKind.POSTGRES:
            # Inside the import's transaction: the store must not commit (a savepoint).
            with ws.store.transaction():
                _record(ws, import_id, started_at, result)
        else:
            _record(ws, import_id, started_at, result)

    result = ingest_file(
        ws.engine,
        ws.catalog,
        ws.settings,
        table,
        path,
        options,
        progress,
        before_commit=record,
        now=started_at,
    )
    if not shared:
        with ws.store.transaction():
            _record(ws, import_id, started_at, result)
    return result.summary
