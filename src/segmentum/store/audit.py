"""The audit log: who created, changed, sent, paused or exported what, and when (append-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from segmentum.store.campaigns import naive
from segmentum.store.database import AppStore


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: str | None


def append(store: AppStore, entry: AuditEntry) -> None:
    store.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)",
        (
            naive(entry.at),
            entry.actor,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.detail,
        ),
    )


def query(
    store: AppStore,
    *,
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """Newest first, filtered by any of the given fields; and the total that matched."""
    where, params = [], []
    for column, value in (
        ("actor", actor),
        ("object_type", object_type),
        ("object_id", object_id),
        ("action", action),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = int(store.scalar(f"SELECT count(*) FROM audit_log{clause}", params) or 0)
    rows = store.query(
        f'SELECT * FROM audit_log{clause} ORDER BY "at" DESC, action LIMIT ? OFFSET ?',
        [*params, limit, offset],
    )
    return [_entry(row) for row in rows], total


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        row["at"], row["actor"], row["action"], row["object_type"], row["object_id"], row["detail"]
    )
