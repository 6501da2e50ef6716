"""The audit log's use cases: record an action by a user or API key; read the log back."""

from __future__ import annotations

import json
from typing import Any

from segmentum.service.clock import now_utc
from segmentum.service.workspace import Workspace
from segmentum.store import audit as audit_store

#: Actions the interfaces record (``object_type`` says on what).
ACTIONS = (
    "create",
    "update",
    "delete",
    "validate",
    "send",
    "test_send",
    "pause",
    "resume",
    "cancel",
    "export",
    "forget",
    "login",
    "logout",
    "disable",
    "revoke",
    "refresh",
)


def record(
    ws: Workspace,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    audit_store.append(
        ws.store,
        audit_store.AuditEntry(
            now_utc(),
            actor,
            action,
            object_type,
            object_id,
            None if detail is None else json.dumps(detail, default=str, sort_keys=True),
        ),
    )


def entries(
    ws: Workspace,
    *,
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    rows, total = audit_store.query(
        ws.store,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        action=action,
        limit=limit,
        offset=offset,
    )
    return [
        {
            "at": row.at,
            "actor": row.actor,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "detail": None if row.detail is None else json.loads(row.detail),
        }
        for row in rows
    ], total
