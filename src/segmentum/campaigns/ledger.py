"""The send ledger's rules: message keys, and what a provider's answer does to a row.

A row is written (``queued``, or ``skipped`` with a reason) before any provider is called;
the worker moves it to ``sending`` when it claims it, calls the provider with the row's
``message_key`` as the idempotency key, then records ``sent`` / ``queued`` again with a later
``next_attempt_at`` (a temporary error, exponential backoff) / ``failed`` (a permanent error,
or the last attempt). Delivery receipts move ``sent`` to ``delivered`` or ``failed``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

STATUSES = ("queued", "sending", "sent", "delivered", "failed", "skipped")


def message_key(campaign_id: str, occurrence: int, channel: str, customer_id: str) -> str:
    """Python twin of the planner's key: sha256 of the four parts joined by U+001F, 32 hex."""
    raw = "\x1f".join((campaign_id, str(occurrence), channel, customer_id))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: int = 30

    def after(self, status: str, attempts_before: int, now: datetime) -> tuple[str, int, datetime]:
        """(new status, attempts, next_attempt_at) after one provider answer."""
        attempts = attempts_before + 1
        if status == "sent":
            return "sent", attempts, now
        if status == "temporary_failure" and attempts < self.max_attempts:
            delay = timedelta(seconds=self.backoff_seconds * 2 ** (attempts - 1))
            return "queued", attempts, now + delay
        return "failed", attempts, now
