"""Delivering due ledger rows: claim a batch (`claims.Claimer`), call the channel with each
row's key as the idempotency key (a channel's `send_many` takes the whole batch), record the
answers set-based.

Crash safety: a claim is committed (``sending``) before any provider call, and answers are
recorded after the batch. A worker killed in between leaves rows in ``sending``; they are
claimed again once their lease expires (at once on DuckDB, where a restarted worker is the
only process) and sent again with the same key, which a provider that honours idempotency
keys ignores. Nothing is skipped: a row leaves ``queued``/``sending`` only with an answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from segmentum.campaigns.claims import Claim, Claimer, record_answers
from segmentum.campaigns.ledger import RetryPolicy
from segmentum.store import campaigns as campaign_store
from segmentum.store.database import AppStore

RESULT_SCHEMA = pa.schema(
    [
        ("message_key", pa.string()),
        ("status", pa.string()),
        ("attempts", pa.int32()),
        ("next_attempt_at", pa.timestamp("us")),
        ("provider_message_id", pa.string()),
        ("error", pa.string()),
        ("sent_at", pa.timestamp("us")),
        ("updated_at", pa.timestamp("us")),
    ]
)


class Sender(Protocol):
    def send(self, message: Any) -> Any: ...


@dataclass
class RateLimiter:
    """At most ``per_second`` messages per second (None: unlimited)."""

    per_second: float | None
    _next: float = 0.0

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> None:
        if not self.per_second:
            return
        now = time.monotonic()
        if self._next > now:
            sleep(self._next - now)
            now = self._next
        self._next = now + 1.0 / self.per_second


@contextmanager
def _unguarded() -> Iterator[None]:
    yield


@dataclass
class Deliverer:
    store: AppStore
    channels: Mapping[str, Sender]
    worker_id: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease_seconds: int = 120
    batch_size: int = 100
    rates: dict[str, RateLimiter] = field(default_factory=dict)
    sender_ids: Mapping[str, str | None] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Held around every store access (not around provider calls): the server's lock.
    guard: Callable[[], AbstractContextManager[None]] = _unguarded
    _claimer: Claimer | None = field(default=None, repr=False)

    @property
    def claimer(self) -> Claimer:
        if self._claimer is None:
            self._claimer = Claimer(self.store, self.worker_id, self.lease_seconds)
        return self._claimer

    def start(self) -> None:
        with self.guard():
            campaign_store.release_stale_claims(self.store, self.worker_id)
        self.claimer.reset()

    def _messages(self, rows: pa.Table) -> list[Any]:
        from segmentum.campaigns.channels.base import OutgoingMessage

        columns = {name: rows.column(name).to_pylist() for name in rows.column_names}
        default_sender = self.sender_ids.get("")
        messages = []
        for index, key in enumerate(columns["message_key"]):
            metadata = {
                "campaign_id": str(columns["campaign_id"][index]),
                "customer_id": str(columns["customer_id"][index]),
                "occurrence": str(columns["occurrence"][index]),
                "segment": str(columns["segment"][index]),
                "variant": str(columns["variant"][index]),
            }
            sender = self.sender_ids.get(columns["country"][index] or "", default_sender)
            if sender:
                metadata["sender_id"] = sender
            messages.append(
                OutgoingMessage(
                    idempotency_key=key,
                    channel=columns["channel"][index],
                    to=columns["recipient"][index],
                    body=columns["body"][index] or "",
                    subject=columns["subject"][index],
                    html=columns["html"][index],
                    headers={},
                    metadata=metadata,
                )
            )
        return messages

    def _send(self, channel_name: str, rows: pa.Table) -> list[tuple[str, Any, Any]]:
        """(status, provider_message_id, error) per row, in order."""
        from segmentum.campaigns.channels.base import send_many

        channel = self.channels.get(channel_name)
        if channel is None:
            failure = ("permanent_failure", None, f"no {channel_name} channel configured")
            return [failure] * rows.num_rows
        messages = self._messages(rows)
        limiter = self.rates.get(channel_name)
        groups = [[message] for message in messages] if limiter is not None else [messages]
        out: list[tuple[str, Any, Any]] = []
        for group in groups:
            if limiter is not None:
                limiter.wait()
            try:
                answers = send_many(channel, group)  # type: ignore[arg-type]
                out.extend((str(a.status), a.provider_message_id, a.error) for a in answers)
            except Exception as failure:  # a provider crash is a temporary failure
                reason = f"{type(failure).__name__}: {failure}"
                out.extend(("temporary_failure", None, reason) for _ in group)
        return out

    def _results(self, rows: pa.Table, answers: list[tuple[str, Any, Any]]) -> pa.Table:
        answered = self.clock()
        naive_now = answered.astimezone(UTC).replace(tzinfo=None)
        statuses = [status for status, _, _ in answers]
        attempts_before = rows.column("attempts").to_pylist()
        if all(status == "sent" for status in statuses):  # the usual case, column-wise
            n = rows.num_rows
            return pa.table(
                {
                    "message_key": rows.column("message_key"),
                    "status": pa.array(["sent"] * n, pa.string()),
                    "attempts": pa.array([int(a) + 1 for a in attempts_before], pa.int32()),
                    "next_attempt_at": pa.array([naive_now] * n, pa.timestamp("us")),
                    "provider_message_id": pa.array([a[1] for a in answers], pa.string()),
                    "error": pa.nulls(n, pa.string()),
                    "sent_at": pa.array([naive_now] * n, pa.timestamp("us")),
                    "updated_at": pa.array([naive_now] * n, pa.timestamp("us")),
                },
                schema=RESULT_SCHEMA,
            )
        results: dict[str, list[Any]] = {name: [] for name in RESULT_SCHEMA.names}
        keys = rows.column("message_key").to_pylist()
        for key, before, (status, provider_id, error) in zip(
            keys, attempts_before, answers, strict=True
        ):
            new_status, attempts, next_at = self.retry.after(status, int(before), answered)
            results["message_key"].append(key)
            results["status"].append(new_status)
            results["attempts"].append(attempts)
            results["next_attempt_at"].append(next_at.astimezone(UTC).replace(tzinfo=None))
            results["provider_message_id"].append(provider_id)
            results["error"].append(error)
            results["sent_at"].append(naive_now if new_status == "sent" else None)
            results["updated_at"].append(naive_now)
        return pa.table(results, schema=RESULT_SCHEMA)

    def deliver_once(self) -> int:
        """Claim and deliver one batch; the number of rows handled (0: nothing due)."""
        with self.guard():
            claim = self.claimer.claim(self.clock(), self.batch_size)
        rows = claim.rows
        if rows.num_rows == 0:
            return 0
        parts = []
        channels = rows.column("channel")
        for channel_name in pc.unique(channels).to_pylist():
            group = rows.filter(pc.equal(channels, channel_name))
            parts.append(self._results(group, self._send(channel_name, group)))
        results = pa.concat_tables(parts)
        with self.guard():
            record_answers(self.store, results, claim)
        return int(rows.num_rows)


__all__ = ["Claim", "Deliverer", "RateLimiter", "Sender"]
