"""Current segment members and the append-only log of entries and exits.

The diff between a refresh's members and the stored ones is computed by set-based SQL inside
the app store over a staging table, never a Python loop over customers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from segmentum.engine.connection import EngineKind
from segmentum.store.database import AppStore, StoreError, scratch_table

STAGING = "membership_staging"


@dataclass(frozen=True)
class SegmentChange:
    segment: str
    version: int
    size: int
    entered: int
    exited: int


def latest_effective_at(store: AppStore) -> datetime | None:
    value = store.scalar("SELECT max(effective_at) FROM membership_log")
    latest_refresh = store.scalar("SELECT max(as_of) FROM membership_refreshes")
    candidates = [v for v in (value, latest_refresh) if v is not None]
    return max(candidates) if candidates else None


def _stage(store: AppStore, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> None:
    """Load (segment, customer_id) rows into a temporary staging table of the app store.

    Rows from outside the engine are made distinct per (segment, customer_id) here (DuckDB:
    ``DISTINCT``; PostgreSQL: the staging table's key), so the diff can rely on it."""
    if store.kind is EngineKind.DUCKDB:
        reader = pa.RecordBatchReader.from_batches(schema, batches)
        store.connection.register("membership_batches", reader)
        try:
            store.execute(
                f"CREATE OR REPLACE TEMP TABLE {STAGING} AS "
                "SELECT DISTINCT segment, customer_id FROM membership_batches"
            )
        finally:
            store.connection.unregister("membership_batches")
        return
    store.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} "
        "(segment TEXT, customer_id TEXT, PRIMARY KEY (segment, customer_id))"
    )
    store.execute(f"TRUNCATE {STAGING}")
    copy_sql = f"COPY {STAGING} (segment, customer_id) FROM STDIN"
    with store.connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for batch in batches:
            segments = batch.column("segment").to_pylist()
            ids = batch.column("customer_id").to_pylist()
            for row in zip(segments, ids, strict=True):
                copy.write_row(row)
    store.execute(f"ANALYZE {STAGING}")


CHANGES = "refresh_changes"


def _diff(store: AppStore) -> None:
    """Fill ``refresh_changes`` (segment, customer_id, version, entered) with the entries
    (staged, not a member, segment still defined: its new version) and the exits (members no
    longer staged, with their segment's new version, or their own for a deleted segment).

    Staging is distinct per (segment, customer_id) (one row per universe customer and segment,
    or made so by ``_stage``), so no key has to be maintained row by row. DuckDB: one full
    outer join over hashes of the pair gives both sides in one pass, where two anti-joins
    built and probed a hash table each (most of a refresh with few changes: 1M customers,
    4.2M members, 0.8 s -> 0.4 s); the versions are joined to the unmatched rows only.
    PostgreSQL: the two anti-joins, each using the staging table's key or a hash."""
    if store.kind is EngineKind.DUCKDB:
        store.execute(
            f"CREATE OR REPLACE TEMP TABLE {CHANGES} AS "
            "SELECT d.segment, d.customer_id, coalesce(v.version, d.version) AS version, "
            "d.entered FROM ("
            " SELECT coalesce(s.segment, m.segment) AS segment,"
            " coalesce(s.customer_id, m.customer_id) AS customer_id, m.version,"
            " s.staged IS NOT NULL AS entered"
            f" FROM (SELECT segment, customer_id, TRUE AS staged FROM {STAGING}) s"
            " FULL OUTER JOIN (SELECT segment, customer_id, version, TRUE AS member"
            " FROM segment_members) m"
            " ON m.segment = s.segment AND m.customer_id = s.customer_id"
            " WHERE s.staged IS NULL OR m.member IS NULL"
            ") d LEFT JOIN refresh_versions v ON v.segment = d.segment "
            "WHERE NOT d.entered OR v.version IS NOT NULL"
        )
        return
    scratch_table(
        store, CHANGES, "segment TEXT, customer_id TEXT, version INTEGER, entered BOOLEAN"
    )
    store.execute(
        f"INSERT INTO {CHANGES} "
        "SELECT s.segment, s.customer_id, v.version, TRUE "
        f"FROM {STAGING} s JOIN refresh_versions v ON v.segment = s.segment "
        "WHERE NOT EXISTS (SELECT 1 FROM segment_members m "
        "WHERE m.segment = s.segment AND m.customer_id = s.customer_id)"
    )
    store.execute(
        f"INSERT INTO {CHANGES} "
        "SELECT m.segment, m.customer_id, coalesce(v.version, m.version), FALSE "
        "FROM segment_members m LEFT JOIN refresh_versions v ON v.segment = m.segment "
        f"WHERE NOT EXISTS (SELECT 1 FROM {STAGING} s "
        "WHERE s.segment = m.segment AND s.customer_id = m.customer_id)"
    )


def apply_refresh(
    store: AppStore,
    members: Iterable[pa.RecordBatch] | None,
    schema: pa.Schema,
    versions: dict[str, int],
    as_of: datetime,
    now: datetime,
) -> list[SegmentChange]:
    """Replace current members by ``members`` (segment, customer_id) and log the changes.

    ``members`` None means the caller already filled the staging table (same DuckDB
    connection as the data engine, so the rows never leave the engine). Segments absent
    from ``versions`` (deleted definitions) lose all their members.
    """
    latest = latest_effective_at(store)
    as_of_naive = as_of.replace(tzinfo=None)
    if latest is not None and as_of_naive < latest:
        raise StoreError(
            f"refusing a refresh as of {as_of_naive:%Y-%m-%d %H:%M:%S} UTC: the membership log "
            f"already has changes effective {latest:%Y-%m-%d %H:%M:%S} UTC"
        )
    now_naive = now.replace(tzinfo=None)
    if members is not None:
        _stage(store, members, schema)
    with store.transaction():
        scratch_table(store, "refresh_versions", "segment TEXT, version INTEGER")
        store.executemany("INSERT INTO refresh_versions VALUES (?, ?)", sorted(versions.items()))
        _diff(store)
        per_segment = {
            row["segment"]: (int(row["entered"]), int(row["exited"]))
            for row in store.query(
                "SELECT segment, count(*) FILTER (WHERE entered) AS entered, "
                f"count(*) FILTER (WHERE NOT entered) AS exited FROM {CHANGES} GROUP BY segment"
            )
        }
        entered = sum(n for n, _ in per_segment.values())
        exited = sum(n for _, n in per_segment.values())
        # A statement that would write no row is not run: besides a scan, that avoids a DuckDB
        # 1.5 bug where, after a large insert and an empty one into the same table in one
        # transaction, the connection no longer sees that table's later inserts (until the
        # file is reopened): the exits of the next refresh vanished from the log.
        if entered:
            store.execute(
                "INSERT INTO membership_log SELECT segment, version, customer_id, 'entered', ?, ? "
                f"FROM {CHANGES} WHERE entered",
                (as_of_naive, now_naive),
            )
        if exited:
            store.execute(
                "INSERT INTO membership_log SELECT segment, version, customer_id, 'exited', ?, ? "
                f"FROM {CHANGES} WHERE NOT entered",
                (as_of_naive, now_naive),
            )
            # DELETE ... USING: a plain hash semi-join (an EXISTS with the filter on
            # ``entered`` became a delim join over all members, 8x slower on DuckDB).
            store.execute(
                f"DELETE FROM segment_members USING {CHANGES} x WHERE NOT x.entered "
                "AND x.segment = segment_members.segment "
                "AND x.customer_id = segment_members.customer_id"
            )
        store.execute(
            "UPDATE segment_members SET version = v.version FROM refresh_versions v "
            "WHERE v.segment = segment_members.segment AND segment_members.version <> v.version"
        )
        if entered:
            store.execute(
                "INSERT INTO segment_members SELECT segment, customer_id, version, ? "
                f"FROM {CHANGES} WHERE entered",
                (as_of_naive,),
            )
        sizes = store.query(
            "SELECT v.segment, v.version, coalesce(sz.n, 0) AS size FROM refresh_versions v "
            "LEFT JOIN (SELECT segment, count(*) AS n FROM segment_members GROUP BY segment) sz "
            "ON sz.segment = v.segment ORDER BY v.segment"
        )
        changes = [
            SegmentChange(
                row["segment"],
                int(row["version"]),
                int(row["size"]),
                *per_segment.get(row["segment"], (0, 0)),
            )
            for row in sizes
        ]
        store.execute(
            "INSERT INTO membership_refreshes VALUES (?, ?, ?, ?, ?)",
            (
                as_of_naive,
                now_naive,
                len(changes),
                sum(change.entered for change in changes),
                sum(change.exited for change in changes),
            ),
        )
    return changes


def first_logged(store: AppStore, segment: str) -> datetime | None:
    """The earliest effective instant in the segment's log (naive UTC), None when empty."""
    value = store.scalar("SELECT min(effective_at) FROM membership_log WHERE segment = ?",
                         (segment,))  # fmt: skip
    if value is None:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def members_at(store: AppStore, segment: str, at: datetime) -> list[str]:
    """Who was a member at an instant, from the log (latest change at or before it wins)."""
    rows = store.query(
        "SELECT customer_id FROM ("
        " SELECT customer_id, change, row_number() OVER ("
        "  PARTITION BY customer_id ORDER BY effective_at DESC, recorded_at DESC,"
        "  CASE change WHEN 'entered' THEN 0 ELSE 1 END) AS rn"
        " FROM membership_log WHERE segment = ? AND effective_at <= ?"
        ") latest WHERE rn = 1 AND change = 'entered' ORDER BY customer_id",
        (segment, at.replace(tzinfo=None)),
    )
    return [row["customer_id"] for row in rows]


def history(store: AppStore, segment: str) -> list[dict[str, Any]]:
    """Size after each effective instant, with the entries and exits that made it and the
    definition's version that made them (the newest, should one instant hold two)."""
    rows = store.query(
        "SELECT effective_at, max(version) AS version, "
        "sum(CASE change WHEN 'entered' THEN 1 ELSE 0 END) AS entered, "
        "sum(CASE change WHEN 'exited' THEN 1 ELSE 0 END) AS exited "
        "FROM membership_log WHERE segment = ? GROUP BY effective_at ORDER BY effective_at",
        (segment,),
    )
    size = 0
    out = []
    for row in rows:
        size += int(row["entered"]) - int(row["exited"])
        out.append(
            {
                "effective_at": row["effective_at"],
                "version": int(row["version"]),
                "size": size,
                "entered": int(row["entered"]),
                "exited": int(row["exited"]),
            }
        )
    return out


def current_members(store: AppStore, segment: str) -> list[str]:
    rows = store.query(
        "SELECT customer_id FROM segment_members WHERE segment = ? ORDER BY customer_id",
        (segment,),
    )
    return [row["customer_id"] for row in rows]
