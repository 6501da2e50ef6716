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


def merge(con: Any, table: Table, incoming: str, columns: Sequence[str], work: str) -> MergeCounts:
    """Upsert ``incoming`` (its ``columns``) into ``table``.

    Columns present replace stored values (NULL included); absent columns stay. For
    subscriptions a stored row changes only when the incoming ``changed_at`` is newer.
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
    con.execute(
        f"""CREATE TEMP TABLE {work} AS SELECT i.*, CASE
            WHEN t.{first_key} IS NULL THEN 'insert'
            WHEN {changed} THEN 'update' ELSE 'unchanged' END AS __action
            FROM {incoming} i LEFT JOIN {target} t ON {_key_match(table, "i", "t")}"""
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
