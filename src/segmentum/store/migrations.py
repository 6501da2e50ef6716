"""App store schema, versioned: migrations run on start-up, oldest first, each exactly once.

Append new migrations at the end; never edit one that has shipped, so a workspace made by an
older release upgrades by running only the ones it lacks.
"""

from __future__ import annotations

from segmentum.store.database import AppStore

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
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
                store.execute(statement)
            store.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)",
                (number, description),
            )
        applied.append(number)
    return applied
