"""The intake's records in the app store: accepted message ids (idempotency) and rejected
messages (the importers' ``quarantine`` table), written set-based from Arrow on DuckDB."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from segmentum.engine.connection import EngineKind
from segmentum.store.database import AppStore, StoreError, arrow_views, placeholders

ACCEPTED_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("kind", pa.string()),
        ("customer_id", pa.string()),
        ("record_table", pa.string()),
        ("received_at", pa.timestamp("us")),
        ("occurred_at", pa.timestamp("us")),
        ("batch_id", pa.string()),
        ("ignored", pa.string()),
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        ("import_id", pa.string()),
        ("table_name", pa.string()),
        ("source", pa.string()),
        ("row_number", pa.int64()),
        ("reasons", pa.string()),
        ("raw", pa.string()),
        ("recorded_at", pa.timestamp("us")),
    ]
)


def _duckdb(store: AppStore) -> Any:
    if store.kind is not EngineKind.DUCKDB:
        raise StoreError("the intake needs a DuckDB app store (PostgreSQL: not yet)")
    return store.connection


#: Message ids looked up per statement: bound values, few enough that DuckDB answers them
#: through the primary key's index instead of scanning every message ever accepted.
LOOKUP_CHUNK = 2_000


def known_message_ids(store: AppStore, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` were accepted before."""
    if not ids:
        return set()
    con = _duckdb(store)
    known: set[str] = set()
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = list(ids[start : start + LOOKUP_CHUNK])
        rows = con.execute(
            f"SELECT message_id FROM intake_messages WHERE message_id IN "
            f"({placeholders(len(chunk))})",
            chunk,
        ).fetchall()
        known.update(str(message_id) for (message_id,) in rows)
    return known


def _insert(store: AppStore, table: str, rows: pa.Table) -> None:
    if rows.num_rows == 0:
        return
    con = _duckdb(store)
    names = ", ".join(rows.column_names)
    with arrow_views(store, rows=rows) as view:
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view['rows']}")


def record_accepted(store: AppStore, rows: pa.Table) -> None:
    """Accepted messages (`ACCEPTED_SCHEMA`); the caller holds the transaction."""
    _insert(store, "intake_messages", rows.cast(ACCEPTED_SCHEMA))


def record_rejected(store: AppStore, rows: pa.Table) -> None:
    """Rejected messages into the quarantine (`QUARANTINE_SCHEMA`)."""
    _insert(store, "quarantine", rows.cast(QUARANTINE_SCHEMA))


def quarantined(store: AppStore, import_id: str) -> list[dict[str, Any]]:
    return store.query(
        "SELECT * FROM quarantine WHERE import_id = ? ORDER BY row_number", (import_id,)
    )
