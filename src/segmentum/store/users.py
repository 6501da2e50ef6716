"""Web users and their sessions in the app store.

Only hashes are stored: the password's argon2id hash (made by the service layer) and the
SHA-256 of each session token; the token itself lives in the browser's cookie only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from segmentum.store.campaigns import naive
from segmentum.store.database import AppStore, StoreError


@dataclass(frozen=True)
class StoredUser:
    username: str
    role: str
    password_hash: str
    disabled: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class StoredSession:
    username: str
    csrf_token: str
    expires_at: datetime


def _user(row: dict[str, Any]) -> StoredUser:
    return StoredUser(
        row["username"],
        row["role"],
        row["password_hash"],
        bool(row["disabled"]),
        row["created_at"],
        row["updated_at"],
        row["last_login_at"],
    )


def insert_user(
    store: AppStore, username: str, role: str, password_hash: str, now: datetime
) -> None:
    if get_user(store, username) is not None:
        raise StoreError(f"a user named {username!r} exists already")
    store.execute(
        "INSERT INTO web_users (username, role, password_hash, disabled, created_at, updated_at) "
        "VALUES (?, ?, ?, FALSE, ?, ?)",
        (username, role, password_hash, naive(now), naive(now)),
    )


def get_user(store: AppStore, username: str) -> StoredUser | None:
    rows = store.query("SELECT * FROM web_users WHERE username = ?", (username,))
    return _user(rows[0]) if rows else None


def list_users(store: AppStore) -> list[StoredUser]:
    return [_user(row) for row in store.query("SELECT * FROM web_users ORDER BY username")]


def count_users(store: AppStore) -> int:
    return int(store.scalar("SELECT count(*) FROM web_users") or 0)


def update_user(
    store: AppStore,
    username: str,
    now: datetime,
    *,
    role: str | None = None,
    password_hash: str | None = None,
    disabled: bool | None = None,
) -> None:
    sets: list[str] = ["updated_at = ?"]
    params: list[Any] = [naive(now)]
    for column, value in (("role", role), ("password_hash", password_hash), ("disabled", disabled)):
        if value is not None:
            sets.append(f"{column} = ?")
            params.append(value)
    params.append(username)
    store.execute(f"UPDATE web_users SET {', '.join(sets)} WHERE username = ?", params)


def record_login(store: AppStore, username: str, now: datetime) -> None:
    store.execute(
        "UPDATE web_users SET last_login_at = ? WHERE username = ?", (naive(now), username)
    )


def insert_session(
    store: AppStore,
    token_hash: str,
    username: str,
    csrf_token: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    store.execute(
        "INSERT INTO web_sessions VALUES (?, ?, ?, ?, ?)",
        (token_hash, username, csrf_token, naive(now), naive(expires_at)),
    )


def get_session(store: AppStore, token_hash: str, now: datetime) -> StoredSession | None:
    rows = store.query(
        "SELECT username, csrf_token, expires_at FROM web_sessions "
        "WHERE token_hash = ? AND expires_at > ?",
        (token_hash, naive(now)),
    )
    if not rows:
        return None
    row = rows[0]
    return StoredSession(row["username"], row["csrf_token"], row["expires_at"])


def delete_session(store: AppStore, token_hash: str) -> None:
    store.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash,))


def delete_user_sessions(store: AppStore, username: str) -> None:
    store.execute("DELETE FROM web_sessions WHERE username = ?", (username,))


def delete_expired_sessions(store: AppStore, now: datetime) -> None:
    store.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (naive(now),))
