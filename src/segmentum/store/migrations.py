"""App store schema, versioned: migrations run on start-up, oldest first, each exactly once.

Append new migrations at the end; never edit one that has shipped, so a workspace made by an
older release upgrades by running only the ones it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from segmentum.engine.connection import EngineKind
from segmentum.store.database import AppStore


@dataclass(frozen=True)
class OnlyOn:
    """A statement run only on one kind of app store (a layout chosen for that engine)."""

    kind: EngineKind
    sql: str


Statement = str | OnlyOn

MIGRATIONS: tuple[tuple[int, str, tuple[Statement, ...]], ...] = (
    (
        1,
        "workspace settings, imports and quarantine",
        (
            "CREATE TABLE IF NOT EXISTS app_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE IF NOT EXISTS imports (
                import_id TEXT PRIMARY KEY, table_name TEXT NOT NULL, source TEXT NOT NULL,
                started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP,
                loaded BIGINT, updated BIGINT, unchanged BIGINT, rejected BIGINT)""",
            """CREATE TABLE IF NOT EXISTS quarantine (
                import_id TEXT NOT NULL, table_name TEXT NOT NULL, source TEXT NOT NULL,
                row_number BIGINT NOT NULL, reasons TEXT NOT NULL, raw TEXT,
                recorded_at TIMESTAMP NOT NULL)""",
        ),
    ),
    (
        2,
        "segment definitions, versions and manual lists",
        (
            """CREATE TABLE IF NOT EXISTS segments (
                name TEXT PRIMARY KEY, version INTEGER NOT NULL, definition TEXT NOT NULL,
                description TEXT, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS segment_versions (
                name TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL, PRIMARY KEY (name, version))""",
            """CREATE TABLE IF NOT EXISTS manual_list_members (
                list_name TEXT NOT NULL, customer_id TEXT NOT NULL,
                PRIMARY KEY (list_name, customer_id))""",
        ),
    ),
    (
        3,
        "current segment members and the append-only membership log",
        (
            """CREATE TABLE IF NOT EXISTS segment_members (
                segment TEXT NOT NULL, customer_id TEXT NOT NULL, version INTEGER NOT NULL,
                entered_at TIMESTAMP NOT NULL, PRIMARY KEY (segment, customer_id))""",
            """CREATE TABLE IF NOT EXISTS membership_log (
                segment TEXT NOT NULL, version INTEGER NOT NULL, customer_id TEXT NOT NULL,
                change TEXT NOT NULL, effective_at TIMESTAMP NOT NULL,
                recorded_at TIMESTAMP NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS membership_log_segment ON membership_log "
            "(segment, effective_at)",
            """CREATE TABLE IF NOT EXISTS membership_refreshes (
                as_of TIMESTAMP NOT NULL, recorded_at TIMESTAMP NOT NULL,
                segments INTEGER NOT NULL, entered BIGINT NOT NULL, exited BIGINT NOT NULL)""",
        ),
    ),
    (
        4,
        "campaigns, audience snapshots, the send ledger and the suppression list",
        (
            """CREATE TABLE IF NOT EXISTS campaigns (
                campaign_id TEXT PRIMARY KEY, state TEXT NOT NULL, definition TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL,
                started_at TIMESTAMP, next_run_at TIMESTAMP,
                occurrences INTEGER NOT NULL DEFAULT 0)""",
            """CREATE TABLE IF NOT EXISTS campaign_audience (
                campaign_id TEXT NOT NULL, occurrence INTEGER NOT NULL, customer_id TEXT NOT NULL,
                segment TEXT NOT NULL, variant TEXT NOT NULL, language TEXT,
                held_out BOOLEAN NOT NULL, generic BOOLEAN NOT NULL, eligible BOOLEAN NOT NULL,
                recorded_at TIMESTAMP NOT NULL,
                PRIMARY KEY (campaign_id, occurrence, customer_id))""",
            """CREATE TABLE IF NOT EXISTS send_ledger (
                message_key TEXT PRIMARY KEY, source TEXT NOT NULL, campaign_id TEXT NOT NULL,
                occurrence INTEGER NOT NULL, customer_id TEXT NOT NULL, channel TEXT NOT NULL,
                segment TEXT, variant TEXT, language TEXT, recipient TEXT, country TEXT,
                subject TEXT, body TEXT, html TEXT,
                status TEXT NOT NULL, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0,
                due_at TIMESTAMP NOT NULL, next_attempt_at TIMESTAMP NOT NULL,
                claimed_by TEXT, claimed_at TIMESTAMP, provider_message_id TEXT, error TEXT,
                sms_segments INTEGER, cost DECIMAL(18, 6),
                created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, sent_at TIMESTAMP,
                UNIQUE (campaign_id, customer_id, channel, occurrence))""",
            "CREATE INDEX IF NOT EXISTS send_ledger_customer ON send_ledger "
            "(customer_id, channel, due_at)",
            """CREATE TABLE IF NOT EXISTS suppressions (
                channel TEXT NOT NULL, address_hash TEXT NOT NULL, reason TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL, PRIMARY KEY (channel, address_hash))""",
            """CREATE TABLE IF NOT EXISTS erasures (
                token TEXT PRIMARY KEY, erased_at TIMESTAMP NOT NULL)""",
        ),
    ),
    (
        5,
        "fitted BTYD models (BG/NBD and Gamma-Gamma parameters with their as_of and period)",
        (
            """CREATE TABLE IF NOT EXISTS clv_models (
                model_id TEXT PRIMARY KEY, as_of TIMESTAMP NOT NULL, as_of_date DATE NOT NULL,
                period TEXT NOT NULL, parameters TEXT NOT NULL, customers BIGINT NOT NULL,
                fitted_at TIMESTAMP NOT NULL)""",
        ),
    ),
    (
        6,
        "tracked links (short code -> message and destination) and their clicks",
        (
            """CREATE TABLE IF NOT EXISTS tracked_links (
                code TEXT PRIMARY KEY, message_key TEXT NOT NULL, campaign_id TEXT NOT NULL,
                occurrence INTEGER NOT NULL, customer_id TEXT NOT NULL, channel TEXT NOT NULL,
                segment TEXT, variant TEXT, original TEXT NOT NULL, destination TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS tracked_links_campaign ON tracked_links (campaign_id)",
            """CREATE TABLE IF NOT EXISTS link_clicks (
                code TEXT NOT NULL, campaign_id TEXT NOT NULL, customer_id TEXT NOT NULL,
                clicked_at TIMESTAMP NOT NULL, event_id TEXT NOT NULL)""",
        ),
    ),
    (
        7,
        "segment members without a key, membership log without an index (bulk refresh)",
        (
            # A refresh writes millions of rows set-based; per-row index maintenance was most
            # of its store time. (segment, customer_id) stays unique by construction
            # (store/membership.py: apply_refresh inserts only pairs that are not members).
            """CREATE TABLE segment_members_unkeyed (
                segment TEXT NOT NULL, customer_id TEXT NOT NULL, version INTEGER NOT NULL,
                entered_at TIMESTAMP NOT NULL)""",
            "INSERT INTO segment_members_unkeyed "
            "SELECT segment, customer_id, version, entered_at FROM segment_members",
            "DROP TABLE segment_members",
            "ALTER TABLE segment_members_unkeyed RENAME TO segment_members",
            "DROP INDEX IF EXISTS membership_log_segment",
        ),
    ),
    (
        8,
        "web users (argon2 hashes), their sessions, and the audit log",
        (
            """CREATE TABLE IF NOT EXISTS web_users (
                username TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
                disabled BOOLEAN NOT NULL DEFAULT FALSE, created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL, last_login_at TIMESTAMP)""",
            """CREATE TABLE IF NOT EXISTS web_sessions (
                token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf_token TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS audit_log (
                "at" TIMESTAMP NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                object_type TEXT NOT NULL, object_id TEXT NOT NULL, detail TEXT)""",
        ),
    ),
    (
        9,
        "API keys (hashes only) and the intake's acknowledged message ids",
        (
            """CREATE TABLE IF NOT EXISTS api_keys (
                key_id TEXT PRIMARY KEY, name TEXT, scope TEXT NOT NULL,
                key_hash TEXT NOT NULL, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)""",
            # One row per accepted message: the idempotency record, written in the same
            # transaction as the message's rows. Rejected messages go to the quarantine.
            """CREATE TABLE IF NOT EXISTS intake_messages (
                message_id TEXT PRIMARY KEY, kind TEXT NOT NULL, customer_id TEXT,
                record_table TEXT, received_at TIMESTAMP NOT NULL,
                occurred_at TIMESTAMP, batch_id TEXT NOT NULL, ignored TEXT)""",
        ),
    ),
    (
        10,
        "automations and their runs, webhook deliveries and dead letters, the timer index, "
        "stored ranking boundaries and the real-time cursors",
        (
            """CREATE TABLE IF NOT EXISTS automations (
                name TEXT PRIMARY KEY, state TEXT NOT NULL, definition TEXT NOT NULL,
                occurrences INTEGER NOT NULL DEFAULT 0,
                created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)""",
            # One row per (automation, membership change): the key makes collecting the
            # membership log idempotent, so a re-scan never runs an action twice.
            """CREATE TABLE IF NOT EXISTS automation_runs (
                run_id TEXT PRIMARY KEY, automation TEXT NOT NULL, customer_id TEXT NOT NULL,
                segment TEXT NOT NULL, change TEXT NOT NULL, effective_at TIMESTAMP NOT NULL,
                due_at TIMESTAMP NOT NULL, status TEXT NOT NULL, outcome TEXT,
                message_key TEXT, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS automation_runs_due ON automation_runs (status, due_at)",
            """CREATE TABLE IF NOT EXISTS webhook_deliveries (
                delivery_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, automation TEXT NOT NULL,
                customer_id TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL,
                status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TIMESTAMP NOT NULL, last_status INTEGER, last_error TEXT,
                created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)""",
            # Webhook calls that failed max_attempts times: kept with the last answer.
            """CREATE TABLE IF NOT EXISTS webhook_dead_letters (
                delivery_id TEXT PRIMARY KEY, automation TEXT NOT NULL, customer_id TEXT NOT NULL,
                url TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL,
                last_status INTEGER, last_error TEXT, dead_at TIMESTAMP NOT NULL)""",
            # The next instant at which a time-bound condition can flip for a customer.
            """CREATE TABLE IF NOT EXISTS realtime_timers (
                customer_id TEXT PRIMARY KEY, next_flip_at TIMESTAMP NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS realtime_timers_due ON realtime_timers (next_flip_at)",
            # Relative thresholds (RFM bins, percentiles) as (value, customer_id) cut keys.
            """CREATE TABLE IF NOT EXISTS ranking_boundaries (
                name TEXT PRIMARY KEY, payload TEXT NOT NULL, as_of TIMESTAMP NOT NULL,
                computed_at TIMESTAMP NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS realtime_state (
                key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        ),
    ),
    (
        11,
        "DuckDB: the timer index without a key or an index (bulk rebuild)",
        (
            # A full refresh writes a timer for most customers: on DuckDB the two ART indexes
            # made that write 1.1 s of a 1M-customer refresh, against 0.1 s without them,
            # and a scan of the table is a few milliseconds (docs/performance.md, "Fifth
            # pass"). customer_id stays unique by construction (store/timers.py deletes a
            # customer's row before inserting another). PostgreSQL keeps its keyed table.
            OnlyOn(
                EngineKind.DUCKDB,
                """CREATE TABLE realtime_timers_unkeyed (
                    customer_id TEXT NOT NULL, next_flip_at TIMESTAMP NOT NULL)""",
            ),
            OnlyOn(
                EngineKind.DUCKDB,
                "INSERT INTO realtime_timers_unkeyed "
                "SELECT customer_id, next_flip_at FROM realtime_timers",
            ),
            OnlyOn(EngineKind.DUCKDB, "DROP INDEX IF EXISTS realtime_timers_due"),
            OnlyOn(EngineKind.DUCKDB, "DROP TABLE realtime_timers"),
            OnlyOn(
                EngineKind.DUCKDB, "ALTER TABLE realtime_timers_unkeyed RENAME TO realtime_timers"
            ),
        ),
    ),
)


def current_version(store: AppStore) -> int:
    store.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    return int(store.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations") or 0)


def migrate(store: AppStore) -> list[int]:
    """Apply every migration newer than the store's version; return the versions applied."""
    applied: list[int] = []
    version = current_version(store)
    for number, description, statements in MIGRATIONS:
        if number <= version:
            continue
        with store.transaction():
            for statement in statements:
                if isinstance(statement, OnlyOn):
                    if statement.kind is store.kind:
                        store.execute(statement.sql)
                else:
                    store.execute(statement)
            store.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)",
                (number, description),
            )
        applied.append(number)
    return applied
