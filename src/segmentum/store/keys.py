"""API keys in the app store: only their SHA-256 hashes, never the keys themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from segmentum.store.database import AppStore


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    name: str | None
    scope: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None


def _key(row: dict[str, Any]) -> StoredKey:
    return StoredKey(
        row["key_id"], row["name"], row["scope"], row["key_hash"], row["created_at"],
        row["revoked_at"],
    )  # fmt: skip


def insert_key(
    store: AppStore, key_id: str, name: str | None, scope: str, key_hash: str, at: datetime
) -> None:
    store.execute(
        "INSERT INTO api_keys (key_id, name, scope, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (key_id, name, scope, key_hash, at),
    )


def get_key(store: AppStore, key_id: str) -> StoredKey | None:
    rows = store.query("SELECT * FROM api_keys WHERE key_id = ?", (key_id,))
    return _key(rows[0]) if rows else None


def list_keys(store: AppStore) -> list[StoredKey]:
    return [_key(row) for row in store.query("SELECT * FROM api_keys ORDER BY created_at, key_id")]


def revoke_key(store: AppStore, key_id: str, at: datetime) -> bool:
    """Mark a key revoked; False when there is no such key or it was revoked already."""
    key = get_key(store, key_id)
    if key is None or key.revoked_at is not None:
        return False
    store.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (at, key_id))
    return True
