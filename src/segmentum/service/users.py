"""Web users: accounts with a role, argon2id password hashes, and login sessions.

Roles are ordered: ``viewer`` reads, ``marketer`` also creates, changes and sends, ``admin``
also manages users, API keys and workspace settings. A session is a random token kept only in
the browser's cookie (the store holds its SHA-256) with its own CSRF token for forms.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from segmentum.service.clock import now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace
from segmentum.store import users as user_store

Role = Literal["viewer", "marketer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "marketer", "admin")
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.@-]{0,63}$"
MIN_PASSWORD_LENGTH = 10
SESSION_HOURS = 12
_hasher = PasswordHasher()
#: Verified against when the user does not exist, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AuthenticationError(ServiceError):
    """Wrong user name or password, or a disabled account (never says which)."""


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a web user (by session) or an API key, with a role."""

    name: str
    role: Role
    kind: Literal["user", "api_key"] = "user"

    def allows(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def actor(self) -> str:
        """The name the audit log records."""
        return self.name if self.kind == "user" else f"key:{self.name}"


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf_token: str


def _check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ServiceError(f"unknown role {role!r}: use viewer, marketer or admin")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise ServiceError("a password may have at most 1024 characters")


def _public(user: user_store.StoredUser) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }


def create_user(ws: Workspace, username: str, password: str, role: str) -> dict[str, Any]:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise ServiceError(
            f"user name {username!r}: lowercase letters, digits and _ . @ - (at most 64)"
        )
    checked = _check_role(role)
    _check_password(password)
    user_store.insert_user(ws.store, username, checked, _hasher.hash(password), now_utc())
    return get_user(ws, username)


def get_user(ws: Workspace, username: str) -> dict[str, Any]:
    user = user_store.get_user(ws.store, username)
    if user is None:
        raise ServiceError(f"no user named {username!r}")
    return _public(user)


def list_users(ws: Workspace) -> list[dict[str, Any]]:
    return [_public(user) for user in user_store.list_users(ws.store)]


def has_users(ws: Workspace) -> bool:
    return user_store.count_users(ws.store) > 0


def update_user(
    ws: Workspace,
    username: str,
    *,
    role: str | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> dict[str, Any]:
    get_user(ws, username)
    checked = None if role is None else _check_role(role)
    hashed = None
    if password is not None:
        _check_password(password)
        hashed = _hasher.hash(password)
    with ws.store.transaction():
        user_store.update_user(
            ws.store, username, now_utc(), role=checked, password_hash=hashed, disabled=disabled
        )
        if disabled or hashed is not None or checked is not None:
            user_store.delete_user_sessions(ws.store, username)  # log out everywhere
    return get_user(ws, username)


def disable_user(ws: Workspace, username: str) -> dict[str, Any]:
    return update_user(ws, username, disabled=True)


def authenticate(ws: Workspace, username: str, password: str) -> Principal:
    """The user, if the password matches and the account is enabled."""
    user = user_store.get_user(ws.store, username)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError) as error:
        raise AuthenticationError("wrong user name or password") from error
    if user is None or user.disabled:
        raise AuthenticationError("wrong user name or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user_store.update_user(ws.store, username, now_utc(), password_hash=_hasher.hash(password))
    return Principal(user.username, _check_role(user.role))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(ws: Workspace, principal: Principal) -> tuple[str, Session]:
    """A new session: the token for the cookie and the session (with its CSRF token)."""
    now = now_utc()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    with ws.store.transaction():
        user_store.delete_expired_sessions(ws.store, now)
        user_store.insert_session(
            ws.store,
            _token_hash(token),
            principal.name,
            csrf,
            now,
            now + timedelta(hours=SESSION_HOURS),
        )
        user_store.record_login(ws.store, principal.name, now)
    return token, Session(principal, csrf)


def resolve_session(ws: Workspace, token: str, now: datetime | None = None) -> Session | None:
    """The live session for a cookie's token; None if unknown, expired or the user disabled."""
    if not token or len(token) > 200:
        return None
    stored = user_store.get_session(ws.store, _token_hash(token), now or now_utc())
    if stored is None:
        return None
    user = user_store.get_user(ws.store, stored.username)
    if user is None or user.disabled:
        return None
    return Session(Principal(user.username, _check_role(user.role)), stored.csrf_token)


def end_session(ws: Workspace, token: str) -> None:
    user_store.delete_session(ws.store, _token_hash(token))


def csrf_matches(session: Session, offered: str | None) -> bool:
    return bool(offered) and hmac.compare_digest(session.csrf_token, str(offered))
