"""Upserting validated rows into a warehouse table, counting what changed.

Written in SQL that DuckDB and PostgreSQL both run (``UPDATE ... FROM``, ``NOT EXISTS``), over
an ``incoming`` relation that holds only valid rows with unique keys. Every row is classified
first (insert / update / unchanged), then updates and inserts run; the caller wraps it all in
one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from segmentum.catalog.tables import Table
from segmentum.ingest.reading import q


@dataclass(frozen=True)
class MergeCounts:
    loaded: int
    updated: int
    unchanged: int


def _key_match(table: Table, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{q(key)} = {right}.{q(key)}" for key in table.key)


def _key_indexed(con: Any, table: str, key: str) -> bool:
    """DuckDB: an ART index on exactly ``key`` exists (``realtime.ensure_indexes`` makes them)."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_indexes() WHERE database_name = current_database() "
        "AND table_name = ? AND expressions = ?",
        [table, f"[{key}]"],
    ).fetchone()
    return bool(row and row[0])


#: Stored rows fetched whole by index (every column of a looked-up row is fetched one by one;
#: past this many matches the join over the whole table is cheaper).
FETCHED_BY_KEY_UP_TO = 200


def _stored_side(
    con: Any, table: Table, incoming: str, key_lookups_up_to: int
) -> tuple[str, list[Any]]:
    """The stored rows to match ``incoming`` against: the whole table, or (DuckDB, a
    single-column key with an index, at most ``key_lookups_up_to`` incoming keys) only the
    stored rows with those keys, found by index lookups of bound values. A join reads the key
    column of every stored row: 1,600 intake events against 10M stored events took 77 ms by
    the join, 11 ms by lookups. New keys (an intake's events) match nothing; when many keys
    match (profiles updated), the join stays."""
    target = q(table.name)
    if not key_lookups_up_to or len(table.key) != 1:
        return target, []
    if not _key_indexed(con, table.name, table.key[0]):
        return target, []
    key = q(table.key[0])
    keys = [row[0] for row in con.execute(f"SELECT DISTINCT {key} FROM {incoming}").fetchall()]
    if not keys or len(keys) > key_lookups_up_to:
        return target, []
    found = [
        row[0]
        for row in con.execute(
            f"SELECT {key} FROM {target} WHERE {key} IN ({', '.join('?' * len(keys))})", keys
        ).fetchall()
    ]
    if len(found) > FETCHED_BY_KEY_UP_TO:
        return target, []
    if not found:
        return f"(SELECT * FROM {target} WHERE FALSE)", []
    return f"(SELECT * FROM {target} WHERE {key} IN ({', '.join('?' * len(found))}))", found


def merge(
    con: Any,
    table: Table,
    incoming: str,
    columns: Sequence[str],
    work: str,
    key_lookups_up_to: int = 0,
) -> MergeCounts:
    """Upsert ``incoming`` (its ``columns``) into ``table``.

    Columns present replace stored values (NULL included); absent columns stay. For
    subscriptions a stored row changes only when the incoming ``changed_at`` is newer.
    ``key_lookups_up_to`` (DuckDB only; the real-time intake's small groups): find the
    stored rows by key lookups when the key is indexed (``_stored_side``).
    """
    target = q(table.name)
    names = ", ".join(q(column) for column in columns)
    if con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {target})").fetchone()[0]:
        # First load into an empty table: every row is new, no join needed.
        con.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {incoming}")
        count = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        return MergeCounts(loaded=int(count), updated=0, unchanged=0)
    changed = " OR ".join(
        f"i.{q(column)} IS DISTINCT FROM t.{q(column)}"
        for column in columns
        if column not in table.key
    )
    if not changed:
        changed = "false"
    if table.name == "subscriptions":
        changed = f"(i.changed_at > t.changed_at) AND ({changed})"
    first_key = q(table.key[0])
    stored, params = _stored_side(con, table, incoming, key_lookups_up_to)
    con.execute(
        f"""CREATE TEMP TABLE {work} AS SELECT i.*, CASE
            WHEN t.{first_key} IS NULL THEN 'insert'
            WHEN {changed} THEN 'update' ELSE 'unchanged' END AS __action
            FROM {incoming} i LEFT JOIN {stored} t ON {_key_match(table, "i", "t")}""",
        params,
    )
    counts = dict(
        con.execute(f"SELECT __action, count(*) FROM {work} GROUP BY __action").fetchall()
    )
    settable = [column for column in columns if column not in table.key]
    if counts.get("update") and settable:
        assignments = ", ".join(f"{q(column)} = w.{q(column)}" for column in settable)
        con.execute(
            f"""UPDATE {target} SET {assignments} FROM (SELECT * FROM {work}
                WHERE __action = 'update') w WHERE {_key_match(table, target, "w")}"""
        )
    if counts.get("insert"):
        con.execute(
            f"INSERT INTO {target} ({names}) SELECT {names} FROM {work} WHERE __action = 'insert'"
        )
    return MergeCounts(
        loaded=int(counts.get("insert", 0)),
        updated=int(counts.get("update", 0)),
        unchanged=int(counts.get("unchanged", 0)),
    )


def create_missing_customers(con: Any, incoming: str) -> int:
    """Insert bare profiles (customer_id only) for customers the incoming rows name."""
    before = int(con.execute("SELECT count(*) FROM customers").fetchone()[0])
    con.execute(
        f"""INSERT INTO customers (customer_id) SELECT DISTINCT i.customer_id FROM {incoming} i
            WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = i.customer_id)"""
    )
    return int(con.execute("SELECT count(*) FROM customers").fetchone()[0]) - before
