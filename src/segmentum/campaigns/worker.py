"""Delivering due ledger rows: claim a small batch, call the channel with each row's key as the
idempotency key, record the answers.

Crash safety: a claim is committed (``sending``) before any provider call, and answers are
recorded after the batch. A worker killed in between leaves rows in ``sending``; they are
claimed again once their lease expires (at once on DuckDB, where a restarted worker is the
only process) and sent again with the same key, which a provider that honours idempotency
keys ignores. Nothing is skipped: a row leaves ``queued``/``sending`` only with an answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa

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

    def start(self) -> None:
        campaign_store.release_stale_claims(self.store, self.worker_id)

    def _message(self, row: dict[str, Any]) -> Any:
        from segmentum.campaigns.channels.base import OutgoingMessage

        metadata = {
            "campaign_id": str(row["campaign_id"]),
            "customer_id": str(row["customer_id"]),
            "occurrence": str(row["occurrence"]),
            "segment": str(row["segment"]),
            "variant": str(row["variant"]),
        }
        sender = self.sender_ids.get(row.get("country") or "", self.sender_ids.get(""))
        if sender:
            metadata["sender_id"] = sender
        return OutgoingMessage(
            idempotency_key=row["message_key"],
            channel=row["channel"],
            to=row["recipient"],
            body=row["body"] or "",
            subject=row["subject"],
            html=row["html"],
            headers={},
            metadata=metadata,
        )

    def _send(self, channel_name: str, rows: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
        """(status, provider_message_id, error) per row, in order."""
        from segmentum.campaigns.channels.base import send_many

        channel = self.channels.get(channel_name)
        if channel is None:
            return [("permanent_failure", None, f"no {channel_name} channel configured")] * len(
                rows
            )
        limiter = self.rates.get(channel_name)
        groups = [[row] for row in rows] if limiter is not None else [rows]
        out: list[tuple[str, Any, Any]] = []
        for group in groups:
            if limiter is not None:
                limiter.wait()
            try:
                answers = send_many(channel, [self._message(row) for row in group])  # type: ignore[arg-type]
                out.extend((str(a.status), a.provider_message_id, a.error) for a in answers)
            except Exception as failure:  # a provider crash is a temporary failure
                reason = f"{type(failure).__name__}: {failure}"
                out.extend(("temporary_failure", None, reason) for _ in group)
        return out

    def deliver_once(self) -> int:
        """Claim and deliver one batch; the number of rows handled (0: nothing due)."""
        now = self.clock()
        rows = campaign_store.claim_due(
            self.store, self.worker_id, now, self.batch_size, self.lease_seconds
        )
        if not rows:
            return 0
        by_channel: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_channel.setdefault(row["channel"], []).append(row)
        results: dict[str, list[Any]] = {name: [] for name in RESULT_SCHEMA.names}
        for channel_name, group in by_channel.items():
            answers = self._send(channel_name, group)
            answered = self.clock()
            naive_now = answered.astimezone(UTC).replace(tzinfo=None)
            for row, (status, provider_id, error) in zip(group, answers, strict=True):
                new_status, attempts, next_at = self.retry.after(
                    status, int(row["attempts"]), answered
                )
                results["message_key"].append(row["message_key"])
                results["status"].append(new_status)
                results["attempts"].append(attempts)
                results["next_attempt_at"].append(next_at.astimezone(UTC).replace(tzinfo=None))
                results["provider_message_id"].append(provider_id)
                results["error"].append(error)
                results["sent_at"].append(naive_now if new_status == "sent" else None)
                results["updated_at"].append(naive_now)
        campaign_store.record_results(self.store, pa.table(results, schema=RESULT_SCHEMA))
        return len(rows)
