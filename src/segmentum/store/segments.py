"""Segment definitions in the app store: current version, every past version, manual lists.

Definitions are stored in their external (YAML/JSON) form as JSON text; saving an unchanged
definition keeps its version, a changed one bumps it and keeps the old one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from segmentum.store.database import AppStore


@dataclass(frozen=True)
class StoredSegment:
    name: str
    version: int
    definition: Any  # the external form (mapping)
    description: str
    created_at: datetime
    updated_at: datetime


def _row_to_segment(row: dict[str, Any]) -> StoredSegment:
    return StoredSegment(
        name=row["name"],
        version=int(row["version"]),
        definition=json.loads(row["definition"]),
        description=row["description"] or "",
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _canonical(definition: Any) -> str:
    return json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def save_segment(
    store: AppStore, name: str, definition: Any, description: str, now: datetime
) -> StoredSegment:
    """Insert or update; returns the stored segment with its (possibly bumped) version."""
    text = _canonical(definition)
    with store.transaction():
        current = get_segment(store, name)
        if current is None:
            version = 1
            store.execute(
                "INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?)",
                (name, version, text, description, now, now),
            )
        elif _canonical(current.definition) == text and current.description == description:
            return current
        else:
            version = current.version + (0 if _canonical(current.definition) == text else 1)
            store.execute(
                "UPDATE segments SET version = ?, definition = ?, description = ?, "
                "updated_at = ? WHERE name = ?",
                (version, text, description, now, name),
            )
        if (
            store.scalar(
                "SELECT count(*) FROM segment_versions WHERE name = ? AND version = ?",
                (name, version),
            )
            == 0
        ):
            store.execute(
                "INSERT INTO segment_versions VALUES (?, ?, ?, ?)", (name, version, text, now)
            )
    stored = get_segment(store, name)
    assert stored is not None
    return stored


def get_segment(store: AppStore, name: str) -> StoredSegment | None:
    rows = store.query("SELECT * FROM segments WHERE name = ?", (name,))
    return _row_to_segment(rows[0]) if rows else None


def list_segments(store: AppStore) -> list[StoredSegment]:
    return [_row_to_segment(row) for row in store.query("SELECT * FROM segments ORDER BY name")]


def delete_segment(store: AppStore, name: str) -> bool:
    with store.transaction():
        existed = get_segment(store, name) is not None
        store.execute("DELETE FROM segments WHERE name = ?", (name,))
    return existed


def replace_manual_list(store: AppStore, list_name: str, customer_ids: Iterable[str]) -> int:
    unique = sorted(set(customer_ids))
    with store.transaction():
        store.execute("DELETE FROM manual_list_members WHERE list_name = ?", (list_name,))
        store.executemany(
            "INSERT INTO manual_list_members VALUES (?, ?)", [(list_name, cid) for cid in unique]
        )
    return len(unique)


def manual_list_names(store: AppStore) -> list[str]:
    rows = store.query("SELECT DISTINCT list_name FROM manual_list_members ORDER BY list_name")
    return [row["list_name"] for row in rows]
