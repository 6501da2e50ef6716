"""Delivering due ledger rows: claim a batch (`claims.Claimer`), call the channel with each
row's key as the idempotency key (a channel's `send_many` takes the whole batch), record the
answers set-based.

Consent is checked again for every claimed batch (``refusals``, the policy gate's rules over
the current consent rows and suppression list): a message planned before an opt-out, a STOP
reply, a hard bounce or an erasure is skipped with that reason instead of sent.

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
    #: The consent check at delivery (``service.consent.delivery_refusals``: the policy
    #: gate's consent and suppression rules over the current rows): the claimed messages
    #: that may no longer go out, with the reason. Required, so no delivery path skips it.
    refusals: Callable[[pa.Table], pa.Table]
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

    def _message_table(self, rows: pa.Table) -> pa.Table:
        """The claimed rows as a channel batch (`channels.base.MESSAGE_FIELDS` + metadata),
        column-wise: no Python object per message unless the channel needs one."""

        def text(name: str) -> pa.ChunkedArray:  # PostgreSQL claims come typed from Python
            return rows.column(name).cast(pa.string())

        metadata = {
            # str() of each value, as the metadata has always carried it
            name: pc.fill_null(text(name), "None")
            for name in ("campaign_id", "customer_id", "occurrence", "segment", "variant")
        }
        return pa.table(
            {
                "idempotency_key": text("message_key"),
                "channel": text("channel"),
                "to": text("recipient"),
                "body": pc.fill_null(text("body"), ""),
                "subject": text("subject"),
                "html": text("html"),
                **metadata,
                "sender_id": self._senders(text("country")),
            }
        )

    def _senders(self, countries: pa.ChunkedArray) -> pa.Array:
        """Per row: the sender id of the recipient's country when the country is listed, else
        the default; null (no ``sender_id`` key) when that is unset or empty."""
        names = list(self.sender_ids)
        values = pa.array([self.sender_ids[name] or None for name in names], pa.string())
        found = pc.index_in(pc.fill_null(countries, ""), value_set=pa.array(names, pa.string()))
        default = pa.scalar(self.sender_ids.get("") or None, pa.string())
        senders = pc.if_else(pc.is_null(found), default, pc.take(values, found))
        return senders.combine_chunks() if isinstance(senders, pa.ChunkedArray) else senders

    def _send(self, channel_name: str, rows: pa.Table) -> pa.Table:
        """The channel's answers (`channels.base.ANSWER_SCHEMA`), one per row, in order."""
        from segmentum.campaigns.channels.base import (
            answers_table,
            messages_from_table,
            send_many,
            send_table,
        )

        channel = self.channels.get(channel_name)
        if channel is None:
            return _answers(rows.num_rows, "permanent_failure",
                            f"no {channel_name} channel configured")  # fmt: skip
        batch = self._message_table(rows)
        limiter = self.rates.get(channel_name)
        if limiter is None:
            try:
                return send_table(channel, batch)  # type: ignore[arg-type]
            except Exception as failure:  # a provider crash is a temporary failure
                return _answers(rows.num_rows, "temporary_failure",
                                f"{type(failure).__name__}: {failure}")  # fmt: skip
        parts = []
        for message in messages_from_table(batch):
            limiter.wait()
            try:
                parts.append(answers_table(send_many(channel, [message])))  # type: ignore[arg-type]
            except Exception as failure:  # a provider crash is a temporary failure
                parts.append(_answers(1, "temporary_failure",
                                      f"{type(failure).__name__}: {failure}"))  # fmt: skip
        return pa.concat_tables(parts)

    def _results(self, rows: pa.Table, answers: pa.Table) -> pa.Table:
        answered = self.clock()
        naive_now = answered.astimezone(UTC).replace(tzinfo=None)
        n = rows.num_rows
        statuses = answers.column("status")
        if pc.all(pc.equal(statuses, "sent")).as_py():  # the usual case, column-wise
            now_column = pa.array([naive_now] * n, pa.timestamp("us"))
            return pa.table(
                {
                    "message_key": rows.column("message_key").cast(pa.string()),
                    "status": statuses,
                    "attempts": pc.add(rows.column("attempts").cast(pa.int32()), 1),
                    "next_attempt_at": now_column,
                    "provider_message_id": answers.column("provider_message_id"),
                    "error": pa.nulls(n, pa.string()),
                    "sent_at": now_column,
                    "updated_at": now_column,
                },
                schema=RESULT_SCHEMA,
            )
        results: dict[str, list[Any]] = {name: [] for name in RESULT_SCHEMA.names}
        keys = rows.column("message_key").to_pylist()
        attempts_before = rows.column("attempts").to_pylist()
        for key, before, status, provider_id, error in zip(
            keys, attempts_before, statuses.to_pylist(),
            answers.column("provider_message_id").to_pylist(), answers.column("error").to_pylist(),
            strict=True,
        ):  # fmt: skip
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
            claimed = claim.rows
            if claimed.num_rows == 0:
                return 0
            refused = self.refusals(
                claimed.select(["message_key", "customer_id", "channel", "recipient"])
            )
            campaign_store.skip_refused(self.store, refused, self.clock())
        rows = claimed
        if refused.num_rows:
            keys = refused.column("message_key")
            rows = claimed.filter(pc.invert(pc.is_in(claimed.column("message_key"), keys)))
            if rows.num_rows == 0:
                return int(claimed.num_rows)
        parts = []
        channels = rows.column("channel")
        for channel_name in pc.unique(channels).to_pylist():
            group = rows.filter(pc.equal(channels, channel_name))
            parts.append(self._results(group, self._send(channel_name, group)))
        results = pa.concat_tables(parts)
        with self.guard():
            record_answers(self.store, results, claim)
        return int(claimed.num_rows)


def _answers(rows: int, status: str, error: str) -> pa.Table:
    """The same answer for every row of a batch (no channel, a crashed provider)."""
    from segmentum.campaigns.channels.base import ANSWER_SCHEMA

    return pa.table(
        {
            "status": pa.array([status] * rows, pa.string()),
            "provider_message_id": pa.nulls(rows, pa.string()),
            "error": pa.array([error] * rows, pa.string()),
        },
        schema=ANSWER_SCHEMA,
    )


__all__ = ["Claim", "Deliverer", "RateLimiter", "Sender"]
