"""The server's use cases: hold the workspace, run the embedded worker, answer the webhooks.

`segmentum serve` is one process that owns the workspace while it runs (DuckDB allows one
writing process): request handlers and the embedded worker share one `Workspace` behind one
lock, taken per step (a request, a claim, a record of answers), never around a provider call.

Webhooks are checked before anything is parsed: the raw body's HMAC-SHA256 under the
provider's shared secret must match the signature header (constant-time comparison). The
secrets are never in settings, only the names of the environment variables holding them:

    channels:
      sms:   {type: http_sms, ..., webhook_secret_env: SMS_WEBHOOK_SECRET}
      email: {type: smtp, ..., webhook_secret_env: EMAIL_WEBHOOK_SECRET,
              unsubscribe_secret_env: SEGMENTUM_UNSUBSCRIBE_SECRET}
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from segmentum.campaigns.channels.base import ChannelConfigError, env_secret
from segmentum.campaigns.channels.http_sms import (
    parse_delivery_receipt,
    parse_inbound_reply,
    verify_signature,
)
from segmentum.campaigns.channels.unsubscribe import (
    UnsubscribeRequest,
    verify_unsubscribe_token,
)
from segmentum.service import campaigns as campaign_service
from segmentum.service import consent
from segmentum.service.clock import now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace
from segmentum.service.workspace_lock import WorkspaceLock

DEFAULT_SIGNATURE_HEADER = "X-Segmentum-Signature"
DEFAULT_STOP_CONFIRMATION = "You are unsubscribed and will get no more messages from us."
#: What the one-click unsubscribe POST carries (RFC 8058, section 3.1).
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
EMAIL_EVENT_KINDS = {
    "unsubscribe": "unsubscribe",
    "hard_bounce": "hard_bounce",
    "bounce": "hard_bounce",
    "complaint": "complaint",
    "spam_complaint": "complaint",
}


class WebhookError(ServiceError):
    """A webhook request refused; ``status`` is the HTTP status the interface answers."""

    status = 400


class UnauthorizedError(WebhookError):
    status = 401


class NotConfiguredError(WebhookError):
    status = 503


class NotFoundError(WebhookError):
    status = 404


class ConflictError(WebhookError):
    status = 409


@dataclass(frozen=True)
class ServerSettings:
    """How `segmentum serve` runs; from the command line or the environment (`from_env`)."""

    db: str | None = None
    app_db: str | None = None
    #: Run the delivery worker inside the server process.
    worker: bool = True
    poll_seconds: float = 1.0
    batch_size: int | None = None

    ENV: ClassVar[Mapping[str, str]] = {
        "db": "SEGMENTUM_DB",
        "app_db": "SEGMENTUM_APP_DB",
        "worker": "SEGMENTUM_SERVE_WORKER",
        "poll_seconds": "SEGMENTUM_SERVE_POLL",
        "batch_size": "SEGMENTUM_SERVE_BATCH",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if environ is None else environ
        names = cls.ENV
        batch = env.get(names["batch_size"])
        return cls(
            db=env.get(names["db"]) or None,
            app_db=env.get(names["app_db"]) or None,
            worker=env.get(names["worker"], "1").strip().lower() not in ("0", "false", "no"),
            poll_seconds=float(env.get(names["poll_seconds"]) or 1.0),
            batch_size=int(batch) if batch else None,
        )

    def to_env(self) -> dict[str, str]:
        """The variables `from_env` reads back (for a server started by import string)."""
        out = {
            self.ENV["worker"]: "1" if self.worker else "0",
            self.ENV["poll_seconds"]: str(self.poll_seconds),
        }
        if self.db:
            out[self.ENV["db"]] = self.db
        if self.app_db:
            out[self.ENV["app_db"]] = self.app_db
        if self.batch_size:
            out[self.ENV["batch_size"]] = str(self.batch_size)
        return out


def decode_payload(body: bytes, content_type: str | None) -> dict[str, Any]:
    """A webhook body as a mapping: JSON, or a form (``a=1&b=2``)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WebhookError("the body is not UTF-8") from error
    if kind == "application/json" or (not kind and text.lstrip().startswith("{")):
        try:
            data = json.loads(text or "{}")
        except json.JSONDecodeError as error:
            raise WebhookError(f"invalid JSON: {error.msg}") from error
        if not isinstance(data, dict):
            raise WebhookError("the JSON body must be an object")
        return data
    return dict(parse_qsl(text, keep_blank_values=True))


@dataclass
class Server:
    """The running server: the workspace, its lock and the embedded worker thread."""

    settings: ServerSettings
    environ: Mapping[str, str] | None = None
    workspace: Workspace | None = None
    _lock: WorkspaceLock = field(default_factory=WorkspaceLock, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    worker_error: str | None = None
    delivered: int = 0
    _realtime: Any = field(default=None, repr=False)

    # --- life cycle ----------------------------------------------------------------------------

    def open(self) -> Server:
        """Open (and so hold) the workspace; start the worker unless disabled."""
        if self.workspace is None:
            self.workspace = Workspace.open(self.settings.db, self.settings.app_db)
        from segmentum.service import realtime  # micro-batches of intake commits

        self._realtime = realtime.start_processor(self.workspace, self.locked_urgently)
        if self.settings.worker:
            self.start_worker()
        return self

    def close(self) -> None:
        self.stop_worker()
        if self._realtime is not None:
            self._realtime, processor = None, self._realtime
            processor.stop()
        if self.workspace is not None:
            workspace, self.workspace = self.workspace, None
            with self._lock.held():
                workspace.close()

    @contextmanager
    def locked(self, urgent: bool = False) -> Iterator[Workspace]:
        """The workspace, for one step; nothing else touches it meanwhile. ``urgent``: served
        before the ordinary waiters (``WorkspaceLock``)."""
        if self.workspace is None:
            raise ServiceError("the server has no open workspace")
        with self._lock.held(urgent):
            yield self.workspace

    def locked_urgently(self) -> AbstractContextManager[Workspace]:
        """``locked`` for the real-time micro-batches (short holds, waited on by latency)."""
        return self.locked(urgent=True)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with self._lock.held():
            yield

    def start_worker(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name="segmentum-worker", daemon=True)
        self._thread.start()

    def stop_worker(self, timeout: float = 30.0) -> None:
        """Ask the worker to stop after its current step and wait for it."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    @property
    def worker_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _work(self) -> None:
        workspace = self.workspace
        assert workspace is not None
        try:
            report = campaign_service.run_worker(
                workspace,
                poll_seconds=self.settings.poll_seconds,
                batch_size=self.settings.batch_size,
                should_stop=self._stop.is_set,
                guard=self._guard,
                sleep=self._stop.wait,
            )
            self.delivered += report.delivered
        except Exception as error:  # the server keeps answering webhooks; /health says why
            self.worker_error = f"{type(error).__name__}: {error}"

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.workspace is not None else "closed",
            "worker": "running" if self.worker_running else "stopped",
            "worker_error": self.worker_error,
        }

    def realtime_stats(self, reset: bool = False) -> dict[str, Any]:
        """Micro-batches applied and the commit → visible latencies (docs/realtime.md)."""
        processor = self._realtime
        if processor is None:
            return {}
        stats: dict[str, Any] = processor.stats()
        if reset:
            processor.reset_stats()
        return stats

    # --- secrets -------------------------------------------------------------------------------

    def _channel_config(self, ws: Workspace, channel: str) -> Mapping[str, Any]:
        return ws.settings.channels.get(channel) or {}

    def _secret(self, ws: Workspace, channel: str, key: str) -> str:
        config = self._channel_config(ws, channel)
        try:
            secret = env_secret(config, key, self.environ)
        except ChannelConfigError as error:
            raise NotConfiguredError(f"{channel} webhooks: {error}") from error
        if not secret:
            raise NotConfiguredError(f"{channel} webhooks: set channels.{channel}.{key}")
        return secret

    def _verify(
        self, ws: Workspace, channel: str, body: bytes, headers: Mapping[str, str]
    ) -> Mapping[str, Any]:
        """Refuse (401) unless the body is signed with the channel's webhook secret."""
        secret = self._secret(ws, channel, "webhook_secret_env")
        config = self._channel_config(ws, channel)
        name = str(config.get("webhook_signature_header", DEFAULT_SIGNATURE_HEADER)).lower()
        lowered = {key.lower(): value for key, value in headers.items()}
        if not verify_signature(secret, body, lowered.get(name)):
            raise UnauthorizedError("missing or invalid webhook signature")
        return config

    # --- webhooks ------------------------------------------------------------------------------

    def sms_receipt(
        self, body: bytes, headers: Mapping[str, str], at: datetime | None = None
    ) -> dict[str, Any]:
        """A delivery receipt: the ledger row (by provider id or key) sent → delivered/failed."""
        with self.locked() as ws:
            config = self._verify(ws, "sms", body, headers)
            payload = decode_payload(body, headers_get(headers, "content-type"))
            try:
                receipt = parse_delivery_receipt(
                    payload,
                    config.get("receipt_reference_field"),
                    config.get("receipt_status_field"),
                )
            except ValueError as error:
                raise WebhookError(str(error)) from error
            outcome = campaign_service.record_receipt(
                ws, receipt.reference, receipt.status, receipt.raw_status, at or now_utc()
            )
        if outcome["result"] == "unknown":
            raise NotFoundError(f"no message {receipt.reference!r}")
        if outcome["result"] == "not_sent":
            raise ConflictError(
                f"message {receipt.reference!r} is {outcome['status']}; retry later"
            )
        return outcome

    def sms_inbound(
        self, body: bytes, headers: Mapping[str, str], at: datetime | None = None
    ) -> dict[str, Any]:
        """An inbound SMS: STOP & co. opt out and suppress; one confirmation at most."""
        with self.locked() as ws:
            config = self._verify(ws, "sms", body, headers)
            payload = decode_payload(body, headers_get(headers, "content-type"))
            try:
                reply = parse_inbound_reply(payload)
            except ValueError as error:
                raise WebhookError(str(error)) from error
            outcome = consent.inbound_reply(ws, reply.from_phone, reply.text, at)
        answer: dict[str, Any] = {"stop": outcome["stop"], "confirm": outcome["confirm"]}
        if outcome["confirm"]:
            answer["reply"] = str(config.get("stop_confirmation", DEFAULT_STOP_CONFIRMATION))
        return answer

    def email_event(
        self, body: bytes, headers: Mapping[str, str], at: datetime | None = None
    ) -> dict[str, Any]:
        """A hard bounce, complaint or unsubscribe reported by the e-mail provider."""
        with self.locked() as ws:
            self._verify(ws, "email", body, headers)
            payload = decode_payload(body, headers_get(headers, "content-type"))
            raw_kind = str(payload.get("type") or payload.get("event") or "").strip().lower()
            address = str(payload.get("email") or payload.get("recipient") or "").strip()
            if not raw_kind or not address:
                raise WebhookError("an e-mail event needs a type and an email")
            if raw_kind == "bounce" and str(payload.get("bounce_type", "hard")).lower() != "hard":
                return {"type": "soft_bounce", "ignored": True}
            kind = EMAIL_EVENT_KINDS.get(raw_kind)
            if kind is None:
                raise WebhookError(f"unknown e-mail event type {raw_kind!r}")
            outcome = consent.email_event(ws, address, kind, at)
        return {"type": kind, **outcome}

    def check_unsubscribe(self, token: str) -> UnsubscribeRequest:
        """What a token stands for (the GET page shows it); refused when forged."""
        with self.locked() as ws:
            return self._unsubscribe_request(ws, token)

    def _unsubscribe_request(self, ws: Workspace, token: str) -> UnsubscribeRequest:
        secret = self._secret(ws, "email", "unsubscribe_secret_env")
        request = verify_unsubscribe_token(secret, token)
        if request is None:
            raise WebhookError("this unsubscribe link is not valid")
        return request

    def unsubscribe(self, token: str, body: bytes, at: datetime | None = None) -> dict[str, Any]:
        """RFC 8058 one-click: a POST of ``List-Unsubscribe=One-Click`` with a signed token."""
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("List-Unsubscribe") != "One-Click":
            raise WebhookError(f"expected the body {ONE_CLICK_BODY}")
        with self.locked() as ws:
            request = self._unsubscribe_request(ws, token)
            outcome = consent.unsubscribe_customer(
                ws, request.customer_id, request.channel, request.campaign_id, at
            )
        return {"channel": request.channel, **outcome}


def headers_get(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None
