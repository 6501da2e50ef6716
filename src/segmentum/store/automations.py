"""Automations, their runs and webhook deliveries in the app store (naive UTC instants).

Runs are collected from the membership log set-based: one ``INSERT ... SELECT`` per scan
whose anti-join on ``run_id`` (a hash of automation, customer, segment, change and
effective instant) makes a re-scan harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from segmentum.engine.connection import EngineKind
from segmentum.store.database import AppStore, StoreError, scratch_table

STATES = ("active", "paused")
RUN_STATUSES = ("pending", "done", "skipped", "failed")
WATERMARK_KEY = "automations.log_watermark"
#: Re-scan this much of the log before the watermark (clock skew between transactions).
WATERMARK_SLACK = timedelta(seconds=5)


def naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None) if instant.tzinfo else instant


@dataclass(frozen=True)
class StoredAutomation:
    name: str
    state: str
    definition: str
    occurrences: int
    created_at: datetime
    updated_at: datetime


def _automation(row: dict[str, Any]) -> StoredAutomation:
    return StoredAutomation(
        row["name"], row["state"], row["definition"], int(row["occurrences"]),
        row["created_at"], row["updated_at"],
    )  # fmt: skip


def insert(store: AppStore, name: str, definition: str, now: datetime) -> None:
    if get(store, name) is not None:
        raise StoreError(f"an automation named {name!r} exists already")
    store.execute(
        "INSERT INTO automations (name, state, definition, occurrences, created_at, updated_at) "
        "VALUES (?, 'active', ?, 0, ?, ?)",
        (name, definition, naive(now), naive(now)),
    )


def get(store: AppStore, name: str) -> StoredAutomation | None:
    rows = store.query("SELECT * FROM automations WHERE name = ?", (name,))
    return _automation(rows[0]) if rows else None


def list_all(store: AppStore) -> list[StoredAutomation]:
    return [_automation(row) for row in store.query("SELECT * FROM automations ORDER BY name")]


def set_state(store: AppStore, name: str, state: str, now: datetime) -> bool:
    if state not in STATES:
        raise StoreError(f"unknown automation state {state!r}")
    rows = store.query(
        "UPDATE automations SET state = ?, updated_at = ? WHERE name = ? RETURNING name",
        (state, naive(now), name),
    )
    return bool(rows)


def next_occurrence(store: AppStore, name: str) -> int:
    rows = store.query(
        "UPDATE automations SET occurrences = occurrences + 1 WHERE name = ? RETURNING occurrences",
        (name,),
    )
    if not rows:
        raise StoreError(f"no automation {name!r}")
    return int(rows[0]["occurrences"])


# --- state -------------------------------------------------------------------------------------


def get_state(store: AppStore, key: str) -> str | None:
    value = store.scalar("SELECT value FROM realtime_state WHERE key = ?", (key,))
    return None if value is None else str(value)


def set_state_value(store: AppStore, key: str, value: str) -> None:
    store.execute(
        "INSERT INTO realtime_state VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
        (key, value, value),
    )


# --- runs --------------------------------------------------------------------------------------


def _hash_sql(store: AppStore, text: str) -> str:
    if store.kind is EngineKind.POSTGRES:
        return f"substr(encode(sha256(({text})::bytea), 'hex'), 1, 32)"
    return f"substr(sha256({text}), 1, 32)"


def _stamp_sql(store: AppStore, column: str) -> str:
    if store.kind is EngineKind.POSTGRES:
        return f"to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return f"strftime({column}, '%Y-%m-%dT%H:%M:%S.%f')"


def collect_runs(store: AppStore, now: datetime) -> int:
    """Turn membership changes recorded since the watermark into pending runs of every active
    automation listening to them; returns the runs added. Idempotent per change."""
    now_naive = naive(now)
    raw = get_state(store, WATERMARK_KEY)
    since = datetime.fromisoformat(raw) - WATERMARK_SLACK if raw else datetime(1970, 1, 1)
    # definitions are JSON: the trigger's segment and change and the delay come from it
    # paused automations collect too: their runs are recorded as skipped (paused)
    rows = store.query("SELECT name, definition, created_at FROM automations")
    if not rows:
        set_state_value(store, WATERMARK_KEY, now_naive.isoformat())
        return 0
    import json

    specs = []
    for row in rows:
        data = json.loads(row["definition"])
        trigger = data["trigger"]
        change = "entered" if trigger.get("when", "enter") == "enter" else "exited"
        specs.append((row["name"], trigger["segment"], change, _delay_seconds(data.get("delay")),
                      bool(data.get("skip_initial", True)), row["created_at"]))  # fmt: skip
    newest = store.scalar("SELECT max(recorded_at) FROM membership_log WHERE recorded_at >= ?",
                          (since,))  # fmt: skip
    added = 0
    key = (
        "a.name || chr(31) || l.customer_id || chr(31) || l.segment || chr(31) || l.change || "
        f"chr(31) || {_stamp_sql(store, 'l.effective_at')}"
    )
    with store.transaction():
        scratch_table(
            store,
            "automation_specs",
            "name TEXT, segment TEXT, change TEXT, delay_seconds BIGINT, skip_initial BOOLEAN, "
            "created_at TIMESTAMP",
        )
        store.executemany("INSERT INTO automation_specs VALUES (?, ?, ?, ?, ?, ?)", specs)
        interval = (
            "make_interval(secs => a.delay_seconds)"
            if store.kind is EngineKind.POSTGRES
            else "to_seconds(a.delay_seconds)"
        )
        result = store.query(
            "INSERT INTO automation_runs (run_id, automation, customer_id, segment, change, "
            "effective_at, due_at, status, created_at, updated_at) "
            f"SELECT DISTINCT {_hash_sql(store, key)}, a.name, l.customer_id, l.segment, "
            f"l.change, l.effective_at, l.effective_at + {interval}, 'pending', ?, ? "
            "FROM membership_log l JOIN automation_specs a ON a.segment = l.segment "
            "AND a.change = l.change "
            "WHERE l.recorded_at >= ? AND l.recorded_at >= a.created_at "
            # the initial population: the first full refresh after the definition was saved
            "AND NOT (a.skip_initial AND l.recorded_at = (SELECT min(r.recorded_at) "
            "FROM membership_refreshes r JOIN segments s ON s.name = l.segment "
            "WHERE r.recorded_at >= s.updated_at)) "
            f"AND NOT EXISTS (SELECT 1 FROM automation_runs r WHERE r.run_id = {_hash_sql(store, key)}) "  # noqa: E501
            "RETURNING run_id",
            (now_naive, now_naive, since),
        )
        added = len(result)
        if newest is not None:
            set_state_value(store, WATERMARK_KEY, newest.isoformat())
    return added


def _delay_seconds(delay: str | None) -> int:
    if not delay:
        return 0
    amount, unit = int(delay[:-1]), delay[-1]
    return amount * {"h": 3600, "d": 86400, "w": 7 * 86400}[unit]


def due_runs(store: AppStore, now: datetime, limit: int = 10_000) -> list[dict[str, Any]]:
    return store.query(
        "SELECT r.*, CASE WHEN EXISTS (SELECT 1 FROM segment_members m WHERE m.segment = "
        "r.segment AND m.customer_id = r.customer_id) THEN TRUE ELSE FALSE END AS is_member "
        "FROM automation_runs r WHERE r.status = 'pending' AND r.due_at <= ? "
        "ORDER BY r.due_at, r.run_id LIMIT ?",
        (naive(now), limit),
    )


def finish_runs(
    store: AppStore, outcomes: Sequence[tuple[str, str, str | None, str | None]], now: datetime
) -> None:
    """(run_id, status, outcome, message_key) per run."""
    store.executemany(
        "UPDATE automation_runs SET status = ?, outcome = ?, message_key = ?, updated_at = ? "
        "WHERE run_id = ?",
        [(status, outcome, key, naive(now), run) for run, status, outcome, key in outcomes],
    )


def run_counts(store: AppStore, name: str | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE automation = ?", (name,)) if name else ("", ())
    return store.query(
        "SELECT automation, status, coalesce(outcome, '') AS outcome, count(*) AS runs "
        f"FROM automation_runs {where} GROUP BY automation, status, outcome "
        "ORDER BY automation, status, outcome",
        params,
    )


# --- webhooks ----------------------------------------------------------------------------------


def add_webhook(store: AppStore, row: dict[str, Any]) -> None:
    store.execute(
        "INSERT INTO webhook_deliveries (delivery_id, run_id, automation, customer_id, url, body, "
        "status, attempts, next_attempt_at, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT DO NOTHING",
        (row["delivery_id"], row["run_id"], row["automation"], row["customer_id"], row["url"],
         row["body"], naive(row["at"]), naive(row["at"]), naive(row["at"])),
    )  # fmt: skip


def due_webhooks(store: AppStore, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
    return store.query(
        "SELECT * FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at, delivery_id LIMIT ?",
        (naive(now), limit),
    )


def record_webhook(
    store: AppStore,
    delivery: dict[str, Any],
    *,
    delivered: bool,
    http_status: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> str:
    """Record one attempt; returns the new status (delivered, pending or dead_letter)."""
    attempts = int(delivery["attempts"]) + 1
    status = "delivered" if delivered else ("pending" if next_attempt_at else "dead_letter")
    with store.transaction():
        store.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
            "last_status = ?, last_error = ?, updated_at = ? WHERE delivery_id = ?",
            (status, attempts, naive(next_attempt_at or now), http_status, error, naive(now),
             delivery["delivery_id"]),
        )  # fmt: skip
        if status == "dead_letter":
            store.execute(
                "INSERT INTO webhook_dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (delivery["delivery_id"], delivery["automation"], delivery["customer_id"],
                 delivery["url"], delivery["body"], attempts, http_status, error, naive(now)),
            )  # fmt: skip
    return status


def dead_letters(store: AppStore) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM webhook_dead_letters ORDER BY dead_at, delivery_id")
