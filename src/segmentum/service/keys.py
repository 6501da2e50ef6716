"""API keys: create (shown once), list, revoke, and authenticate with a scope.

A key reads ``sgm_<key id>_<secret>``: the key id is 12 hex digits (shown in lists, used to
revoke), the secret 32 random bytes in URL-safe base64. The store keeps only the key id, its
scope and name and the SHA-256 of the whole key; a presented key is hashed and compared in
constant time (``hmac.compare_digest``), and an unknown key id is compared against a dummy
hash so that timing does not tell which key ids exist. Keys are never logged:
`install_log_redaction` puts a filter on the loggers that replaces anything shaped like a key
(and any ``Basic``/``Bearer`` credentials) with ``[redacted]``.

Scopes and what they grant (`GRANTS`):

========  ======================================================
read      read endpoints
ingest    the intake (the Segment "write key")
marketer  read endpoints and the marketer's actions
admin     everything
========  ======================================================
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from segmentum.service.clock import now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.server import Server, UnauthorizedError, WebhookError
from segmentum.service.workspace import Workspace
from segmentum.store import keys as key_store
from segmentum.store.campaigns import naive
from segmentum.store.keys import StoredKey

SCOPES: tuple[str, ...] = ("read", "ingest", "marketer", "admin")
#: Scope of the key -> the scopes it satisfies.
GRANTS: Mapping[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "ingest": frozenset({"ingest"}),
    "marketer": frozenset({"marketer", "read"}),
    "admin": frozenset(SCOPES),
}
KEY_PREFIX = "sgm_"
KEY_PATTERN = re.compile(r"sgm_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")
_PARSE = re.compile(r"^sgm_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
_CREDENTIALS = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]+", re.IGNORECASE)
#: A phone number in E.164 (``+`` and 8 to 15 digits, single separators allowed), also
#: URL-encoded (``%2B``): customer data, never logged (e.g. in an access log's query string).
_PHONE = re.compile(r"(?:\+|%2[Bb])\d(?:(?:%20| |-|\.)?\d){7,14}(?!\d)")
_DUMMY_HASH = hashlib.sha256(b"segmentum-no-such-key").hexdigest()
#: Seconds a looked-up key is trusted before the store is asked again (a revocation made by
#: another process, e.g. with a PostgreSQL app store, takes effect within this time).
CACHE_SECONDS = 5.0
#: While one request reloads an expired key, the others keep the expired entry for at most
#: this long instead of queueing behind the workspace lock. Under load every key expired at
#: once and each request of the 16 clients waited for the lock in turn (the intake and the
#: micro-batches hold it), a stall every `CACHE_SECONDS`.
STALE_SECONDS = 30.0
REDACTED = "[redacted]"


class ForbiddenError(WebhookError):
    """The key is valid but its scope does not allow this."""

    status = 403


@dataclass(frozen=True)
class CreatedKey:
    key_id: str
    scope: str
    name: str | None
    #: The key itself: shown once, never stored.
    key: str


@dataclass(frozen=True)
class Principal:
    """Who made a request: the key's id, name and scope (never the key)."""

    key_id: str
    name: str | None
    scope: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ServiceError(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
    return scope


def create_key(
    ws: Workspace, scope: str, name: str | None = None, at: datetime | None = None
) -> CreatedKey:
    """A new key; the returned ``key`` is the only time it is ever seen."""
    _check_scope(scope)
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    key_store.insert_key(ws.store, key_id, name, scope, hash_key(key), naive(at or now_utc()))
    return CreatedKey(key_id, scope, name, key)


def list_keys(ws: Workspace) -> list[dict[str, Any]]:
    """Every key without its hash: id, name, scope, created_at, revoked_at."""
    return [
        {
            "key_id": key.key_id,
            "name": key.name,
            "scope": key.scope,
            "created_at": key.created_at,
            "revoked_at": key.revoked_at,
        }
        for key in key_store.list_keys(ws.store)
    ]


def revoke_key(ws: Workspace, key_id: str, at: datetime | None = None) -> None:
    if key_store.get_key(ws.store, key_id) is None:
        raise ServiceError(f"no API key {key_id!r}")
    key_store.revoke_key(ws.store, key_id, naive(at or now_utc()))
    key_ring(ws).forget(key_id)


@dataclass
class KeyRing:
    """Looked-up keys, cached for `CACHE_SECONDS` so a request rarely needs the store.

    An expired key is reloaded by one request at a time: the others meanwhile keep the
    expired entry (up to `STALE_SECONDS` old), so a reload never queues every request behind
    the store. ``forget`` (a revocation in this process) takes effect at once."""

    seconds: float = CACHE_SECONDS
    stale_seconds: float = STALE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[StoredKey | None, float]] = field(default_factory=dict)
    _loading: set[str] = field(default_factory=set)
    #: Bumped by ``forget``: a load that began before it does not store its answer.
    _generation: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def forget(self, key_id: str | None = None) -> None:
        with self._lock:
            self._generation += 1
            if key_id is None:
                self._cache.clear()
            else:
                self._cache.pop(key_id, None)

    def lookup(self, key_id: str, load: Callable[[str], StoredKey | None]) -> StoredKey | None:
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key_id)
            if cached is not None and now - cached[1] < self.seconds:
                return cached[0]
            reloading = key_id in self._loading
            if reloading and cached is not None and now - cached[1] < self.stale_seconds:
                return cached[0]
            self._loading.add(key_id)
            generation = self._generation
        try:
            stored = load(key_id)
        finally:
            with self._lock:
                self._loading.discard(key_id)
        with self._lock:
            if generation == self._generation:
                self._cache[key_id] = (stored, now)
        return stored


def key_ring(ws: Workspace) -> KeyRing:
    """The workspace's key cache (one per open workspace)."""
    ring = ws.extras.get("keys.ring")
    if not isinstance(ring, KeyRing):
        ring = ws.extras.setdefault("keys.ring", KeyRing())
    assert isinstance(ring, KeyRing)
    return ring


def verify(key: str, scope: str, load: Callable[[str], StoredKey | None]) -> Principal:
    """The principal of ``key`` if it may act with ``scope``.

    Raises `UnauthorizedError` (401: malformed, unknown, wrong or revoked key) or
    `ForbiddenError` (403: a valid key whose scope does not grant ``scope``).
    """
    _check_scope(scope)
    match = _PARSE.match(key.strip())
    stored = load(match.group(1)) if match else None
    expected = stored.key_hash if stored is not None else _DUMMY_HASH
    if not hmac.compare_digest(hash_key(key.strip()), expected) or stored is None:
        raise UnauthorizedError("invalid API key")
    if stored.revoked_at is not None:
        raise UnauthorizedError("this API key was revoked")
    if scope not in GRANTS.get(stored.scope, frozenset()):
        raise ForbiddenError(f"a {stored.scope} key cannot do this (needs {scope})")
    return Principal(stored.key_id, stored.name, stored.scope)


def authenticate(ws: Workspace, key: str, scope: str) -> Principal:
    """`verify` against the workspace's store (the caller holds the workspace)."""
    ring = key_ring(ws)
    return verify(key, scope, lambda key_id: ring.lookup(key_id, _loader(ws)))


def authenticate_on(server: Server, key: str, scope: str) -> Principal:
    """`verify` for a request to the running server: the store is read under the server's
    lock only when the key is not in the cache."""
    workspace = server.workspace
    if workspace is None:
        raise ServiceError("the server has no open workspace")
    ring = key_ring(workspace)

    def load(key_id: str) -> StoredKey | None:
        with server.locked() as ws:
            return _loader(ws)(key_id)

    return verify(key, scope, lambda key_id: ring.lookup(key_id, load))


def _loader(ws: Workspace) -> Callable[[str], StoredKey | None]:
    return lambda key_id: key_store.get_key(ws.store, key_id)


# --- never logged -------------------------------------------------------------------------------


def redact(text: str) -> str:
    """``text`` with every key, every Basic/Bearer credential and every E.164 phone number
    (``+420601123456``, URL-encoded ``%2B420601123456``) replaced."""
    text = _CREDENTIALS.sub(lambda m: f"{m.group(1)} {REDACTED}", KEY_PATTERN.sub(REDACTED, text))
    return _PHONE.sub(REDACTED, text)


def _redact_arg(value: Any) -> Any:
    """A log argument with secrets replaced; numbers (and anything clean) unchanged, so the
    format string (``%d``) still applies."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = value if isinstance(value, str) else str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


class KeyRedactingFilter(logging.Filter):
    """A logging filter that rewrites a record whose message shows a key, credentials or a
    phone number. It redacts the format string and each argument in place and keeps the
    arguments' shape (a tuple stays a tuple of the same length: uvicorn's access formatter
    unpacks it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # A traceback's text (an exception's message may quote a value, e.g. a phone number)
        # is formatted here, redacted, and kept where the handler's formatter looks for it.
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler
            return True
        cleaned = redact(message)
        if cleaned == message:
            return True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(arg) for key, arg in record.args.items()}
        try:
            leaked = redact(record.getMessage()) != record.getMessage()
        except Exception:
            leaked = True
        if leaked:  # a secret split between the format and an argument: the whole text
            record.msg, record.args = cleaned, ()
        return True


DEFAULT_LOGGERS: tuple[str, ...] = (
    "", "uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "segmentum",
)  # fmt: skip


def install_log_redaction(names: Iterable[str] = DEFAULT_LOGGERS) -> None:
    """Put one `KeyRedactingFilter` on each named logger and each of its handlers (a logger's
    filter sees only its own records; a handler's sees what propagates to it). Idempotent."""
    for name in names:
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            if not any(isinstance(f, KeyRedactingFilter) for f in target.filters):
                target.addFilter(KeyRedactingFilter())
