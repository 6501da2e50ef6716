"""Campaigns, audience snapshots, the send ledger and the suppression list in the app store.

Instants are stored as naive UTC timestamps. Bulk rows arrive as Arrow tables and are loaded
set-based (DuckDB: a registered Arrow relation; PostgreSQL: COPY), never row by row through
INSERT statements. Claiming due ledger rows uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so
several workers never claim the same row; on DuckDB one process holds the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from segmentum.engine.connection import EngineKind
from segmentum.store.database import AppStore, StoreError, arrow_views

LEDGER_COLUMNS: tuple[str, ...] = (
    "message_key", "source", "campaign_id", "occurrence", "customer_id", "channel", "segment",
    "variant", "language", "recipient", "country", "subject", "body", "html", "status",
    "reason", "attempts", "due_at", "next_attempt_at", "sms_segments", "cost", "created_at",
    "updated_at",
)  # fmt: skip
AUDIENCE_COLUMNS: tuple[str, ...] = (
    "campaign_id", "occurrence", "customer_id", "segment", "variant", "language", "held_out",
    "generic", "eligible", "recorded_at",
)  # fmt: skip
#: Statuses that count towards frequency caps (a message that is or will be on its way).
CAPPED_STATUSES = ("queued", "sending", "sent", "delivered")


def naive(instant: datetime) -> datetime:
    """An aware instant as the naive UTC the store holds."""
    if instant.tzinfo is None:
        return instant
    from datetime import UTC

    return instant.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class StoredCampaign:
    campaign_id: str
    state: str
    definition: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    next_run_at: datetime | None
    occurrences: int


def _campaign(row: dict[str, Any]) -> StoredCampaign:
    return StoredCampaign(
        row["campaign_id"], row["state"], row["definition"], row["created_at"],
        row["updated_at"], row["started_at"], row["next_run_at"], int(row["occurrences"]),
    )  # fmt: skip


def insert_campaign(store: AppStore, campaign_id: str, definition: str, now: datetime) -> None:
    if get_campaign(store, campaign_id) is not None:
        raise StoreError(f"a campaign named {campaign_id!r} exists already")
    store.execute(
        "INSERT INTO campaigns (campaign_id, state, definition, created_at, updated_at) "
        "VALUES (?, 'draft', ?, ?, ?)",
        (campaign_id, definition, naive(now), naive(now)),
    )


def update_definition(store: AppStore, campaign_id: str, definition: str, now: datetime) -> None:
    store.execute(
        "UPDATE campaigns SET definition = ?, updated_at = ? WHERE campaign_id = ?",
        (definition, naive(now), campaign_id),
    )


def get_campaign(store: AppStore, campaign_id: str) -> StoredCampaign | None:
    rows = store.query("SELECT * FROM campaigns WHERE campaign_id = ?", (campaign_id,))
    return _campaign(rows[0]) if rows else None


def list_campaigns(store: AppStore) -> list[StoredCampaign]:
    return [_campaign(row) for row in store.query("SELECT * FROM campaigns ORDER BY campaign_id")]


def set_state(
    store: AppStore,
    campaign_id: str,
    state: str,
    now: datetime,
    *,
    expected: Sequence[str] | None = None,
    next_run_at: datetime | bool | None = False,
    started: bool = False,
) -> bool:
    """Change the state (only from ``expected`` states when given); False if nothing matched."""
    sets = ["state = ?", "updated_at = ?"]
    params: list[Any] = [state, naive(now)]
    if next_run_at is not False:
        sets.append("next_run_at = ?")
        params.append(None if next_run_at is None or next_run_at is True else naive(next_run_at))
    if started:
        sets.append("started_at = coalesce(started_at, ?)")
        params.append(naive(now))
    where = "campaign_id = ?"
    params.append(campaign_id)
    if expected:
        where += f" AND state IN ({', '.join('?' for _ in expected)})"
        params.extend(expected)
    rows = store.query(f"UPDATE campaigns SET {', '.join(sets)} WHERE {where} RETURNING state",
                       params)  # fmt: skip
    return bool(rows)


def next_occurrence(store: AppStore, campaign_id: str) -> int:
    """Reserve the campaign's next occurrence number (1, 2, ...)."""
    rows = store.query(
        "UPDATE campaigns SET occurrences = occurrences + 1 WHERE campaign_id = ? "
        "RETURNING occurrences",
        (campaign_id,),
    )
    if not rows:
        raise StoreError(f"no campaign {campaign_id!r}")
    return int(rows[0]["occurrences"])


def due_campaigns(store: AppStore, now: datetime) -> list[StoredCampaign]:
    rows = store.query(
        "SELECT * FROM campaigns WHERE state = 'scheduled' AND next_run_at IS NOT NULL "
        "AND next_run_at <= ? ORDER BY next_run_at, campaign_id",
        (naive(now),),
    )
    return [_campaign(row) for row in rows]


# --- bulk loading -----------------------------------------------------------------------------


def insert_arrow(store: AppStore, table: str, data: pa.Table, columns: Sequence[str]) -> int:
    """Append ``data``'s ``columns`` to ``table`` set-based; returns the rows loaded."""
    if data.num_rows == 0:
        return 0
    names = ", ".join(columns)
    if store.kind is EngineKind.DUCKDB:
        with arrow_views(store, load=data.select(list(columns))) as view:
            store.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view['load']}")
        return int(data.num_rows)
    copy_sql = f"COPY {table} ({names}) FROM STDIN"
    with store.connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for batch in data.select(list(columns)).to_batches(50_000):
            for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                copy.write_row(row)
    if not store._in_transaction:
        store.connection.commit()
    return int(data.num_rows)


def query_arrow(store: AppStore, sql: str, params: Sequence[Any] = ()) -> pa.Table:
    if store.kind is EngineKind.DUCKDB:
        return store.connection.execute(sql, list(params)).fetch_arrow_table()
    return pa.Table.from_pylist(store.query(sql, params))


# --- audience snapshots -------------------------------------------------------------------------


def audience_counts(store: AppStore, campaign_id: str) -> list[dict[str, Any]]:
    return store.query(
        "SELECT occurrence, segment, variant, count(*) AS audience, "
        "sum(CASE WHEN held_out THEN 1 ELSE 0 END) AS held_out, "
        "sum(CASE WHEN generic THEN 1 ELSE 0 END) AS generic "
        "FROM campaign_audience WHERE campaign_id = ? "
        "GROUP BY occurrence, segment, variant ORDER BY occurrence, segment, variant",
        (campaign_id,),
    )


# --- the ledger ---------------------------------------------------------------------------------


def recent_messages(store: AppStore, channel: str, since: datetime, until: datetime) -> pa.Table:
    """(customer_id, channel, at) of messages that count towards frequency caps."""
    placeholders = ", ".join("?" for _ in CAPPED_STATUSES)
    return query_arrow(
        store,
        "SELECT customer_id, channel, coalesce(sent_at, next_attempt_at) AS at "
        f"FROM send_ledger WHERE channel = ? AND status IN ({placeholders}) "
        "AND source <> 'test' AND coalesce(sent_at, next_attempt_at) > ? "
        "AND coalesce(sent_at, next_attempt_at) < ?",
        (channel, *CAPPED_STATUSES, naive(since), naive(until)),
    )


def claim_due(
    store: AppStore, worker_id: str, now: datetime, limit: int, lease_seconds: int
) -> list[dict[str, Any]]:
    """Claim up to ``limit`` due rows of sending campaigns: queued ones whose time has come and
    rows left in ``sending`` by a worker whose lease expired (a crash). Same key on retry."""
    from datetime import timedelta

    stale = naive(now) - timedelta(seconds=lease_seconds)
    if store.kind is EngineKind.DUCKDB:
        return _claim_duckdb(store, worker_id, naive(now), stale, limit)
    lock = " FOR UPDATE OF l SKIP LOCKED"
    return store.query(
        "UPDATE send_ledger SET status = 'sending', claimed_by = ?, claimed_at = ? "
        "WHERE message_key IN (SELECT l.message_key FROM send_ledger l "
        "JOIN campaigns c ON c.campaign_id = l.campaign_id "
        "WHERE c.state = 'sending' AND l.source = 'campaign' AND ("
        "(l.status = 'queued' AND l.next_attempt_at <= ?) OR "
        "(l.status = 'sending' AND l.claimed_at < ?)) "
        f"ORDER BY l.next_attempt_at, l.message_key LIMIT ?{lock}) "
        "RETURNING message_key, campaign_id, occurrence, customer_id, channel, recipient, "
        "country, subject, body, html, attempts, segment, variant",
        (worker_id, naive(now), naive(now), stale, limit),
    )


_CLAIMED = (
    "message_key, campaign_id, occurrence, customer_id, channel, recipient, country, subject, "
    "body, html, attempts, segment, variant"
)


def _claim_duckdb(
    store: AppStore, worker_id: str, now: datetime, stale: datetime, limit: int
) -> list[dict[str, Any]]:
    """DuckDB: one process holds the file, so select then mark (a join on the keys is much
    faster there than ``UPDATE ... WHERE key IN (subquery) RETURNING``)."""
    with store.transaction():
        claimed = store.connection.execute(
            f"SELECT {_CLAIMED} FROM send_ledger l WHERE l.source = 'campaign' "
            "AND l.campaign_id IN (SELECT campaign_id FROM campaigns WHERE state = 'sending') "
            "AND ((l.status = 'queued' AND l.next_attempt_at <= ?) OR "
            "(l.status = 'sending' AND l.claimed_at < ?)) "
            "ORDER BY l.next_attempt_at, l.message_key LIMIT ?",
            [now, stale, limit],
        ).fetch_arrow_table()
        if claimed.num_rows == 0:
            return []
        with arrow_views(store, claimed=claimed.select(["message_key"])) as view:
            store.execute(
                f"UPDATE send_ledger SET status = 'sending', claimed_by = ?, claimed_at = ? "
                f"FROM {view['claimed']} c WHERE send_ledger.message_key = c.message_key",
                (worker_id, now),
            )
    rows: list[dict[str, Any]] = claimed.to_pylist()
    return rows


def release_stale_claims(store: AppStore, worker_id: str) -> None:
    """On DuckDB one process holds the file: every ``sending`` row is a crashed worker's."""
    if store.kind is EngineKind.DUCKDB:
        store.execute(
            "UPDATE send_ledger SET claimed_at = TIMESTAMP '1970-01-01' "
            "WHERE status = 'sending' AND source = 'campaign' AND claimed_by <> ?",
            (worker_id,),
        )


def record_results(store: AppStore, results: pa.Table) -> None:
    """Apply (message_key, status, attempts, next_attempt_at, provider_message_id, error,
    sent_at, updated_at) to the ledger, set-based."""
    if results.num_rows == 0:
        return
    assignments = (
        "status = r.status, attempts = r.attempts, next_attempt_at = r.next_attempt_at, "
        "provider_message_id = coalesce(r.provider_message_id, send_ledger.provider_message_id), "
        "error = r.error, sent_at = coalesce(r.sent_at, send_ledger.sent_at), "
        "updated_at = r.updated_at, claimed_by = NULL"
    )
    if store.kind is EngineKind.DUCKDB:
        with arrow_views(store, results=results) as view:
            store.execute(
                f"UPDATE send_ledger SET {assignments} FROM {view['results']} r "
                "WHERE send_ledger.message_key = r.message_key"
            )
        return
    with store.transaction():
        store.execute(
            "CREATE TEMP TABLE IF NOT EXISTS ledger_results (message_key TEXT, status TEXT, "
            "attempts INTEGER, next_attempt_at TIMESTAMP, provider_message_id TEXT, error TEXT, "
            "sent_at TIMESTAMP, updated_at TIMESTAMP) ON COMMIT DELETE ROWS"
        )
        insert_arrow(store, "ledger_results", results, results.column_names)
        store.execute(
            f"UPDATE send_ledger SET {assignments} FROM ledger_results r "
            "WHERE send_ledger.message_key = r.message_key"
        )


def ledger_counts(store: AppStore, campaign_id: str) -> list[dict[str, Any]]:
    return store.query(
        "SELECT occurrence, status, coalesce(reason, '') AS reason, count(*) AS messages, "
        "coalesce(sum(sms_segments), 0) AS sms_segments, coalesce(sum(cost), 0) AS cost "
        "FROM send_ledger WHERE campaign_id = ? AND source = 'campaign' "
        "GROUP BY occurrence, status, reason ORDER BY occurrence, status, reason",
        (campaign_id,),
    )


def pending_count(store: AppStore, campaign_id: str, occurrence: int | None = None) -> int:
    sql = (
        "SELECT count(*) FROM send_ledger WHERE campaign_id = ? AND source = 'campaign' "
        "AND status IN ('queued', 'sending')"
    )
    params: list[Any] = [campaign_id]
    if occurrence is not None:
        sql += " AND occurrence = ?"
        params.append(occurrence)
    return int(store.scalar(sql, params) or 0)


def next_due(store: AppStore) -> datetime | None:
    value = store.scalar(
        "SELECT min(l.next_attempt_at) FROM send_ledger l JOIN campaigns c "
        "ON c.campaign_id = l.campaign_id WHERE c.state = 'sending' AND l.status = 'queued'"
    )
    return value if isinstance(value, datetime) else None


# --- suppression ----------------------------------------------------------------------------


def suppress(store: AppStore, channel: str, address_hash: str, reason: str, now: datetime) -> bool:
    """Add a hashed address; False when it was suppressed already."""
    rows = store.query(
        "INSERT INTO suppressions VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING channel",
        (channel, address_hash, reason, naive(now)),
    )
    return bool(rows)


def skip_refused(store: AppStore, refused: pa.Table, now: datetime) -> None:
    """Mark claimed messages the delivery-time consent check refused (``message_key``,
    ``reason``) as skipped with that reason: they are never sent and leave the claim."""
    if refused.num_rows == 0:
        return
    store.executemany(
        "UPDATE send_ledger SET status = 'skipped', reason = ?, claimed_by = NULL, "
        "updated_at = ? WHERE message_key = ? AND status IN ('queued', 'sending')",
        [
            (reason, naive(now), key)
            for key, reason in zip(
                refused.column("message_key").to_pylist(),
                refused.column("reason").to_pylist(),
                strict=True,
            )
        ],
    )


def suppression_hashes(store: AppStore, hashes: Sequence[str]) -> pa.Table:
    """(channel, address_hash) of the suppressed addresses among ``hashes`` (any channel)."""
    rows = []
    for start in range(0, len(hashes), 1_000):
        part = list(hashes[start : start + 1_000])
        marks = ", ".join("?" for _ in part)
        rows += store.query(
            f"SELECT channel, address_hash FROM suppressions WHERE address_hash IN ({marks})",
            part,
        )
    return pa.table(
        {
            "channel": pa.array([r["channel"] for r in rows], pa.string()),
            "address_hash": pa.array([r["address_hash"] for r in rows], pa.string()),
        }
    )


def suppression_hashes_all(store: AppStore, channel: str) -> pa.Table:
    """(channel, address_hash) of every suppressed address of ``channel``, for the gate."""
    rows = store.query(
        "SELECT channel, address_hash FROM suppressions WHERE channel = ?", (channel,)
    )
    return pa.table(
        {
            "channel": pa.array([r["channel"] for r in rows], pa.string()),
            "address_hash": pa.array([r["address_hash"] for r in rows], pa.string()),
        }
    )
