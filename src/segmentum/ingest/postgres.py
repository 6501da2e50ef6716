"""The PostgreSQL side of an import: the ids it refers to, then COPY and a set-based merge.

Validation stays in a private in-process DuckDB (see :mod:`segmentum.ingest.importer`);
PostgreSQL only sees (a) the distinct ids the file refers to (customer ids; order ids of
order items), staged to find which exist (a semi-join in PostgreSQL: only the existing ids of
the file come back, never the customer or order table), and (b) the validated rows, loaded by
``COPY`` (:func:`segmentum.engine.bulk.load_arrow`) into an UNLOGGED staging table shaped
``LIKE`` the target, and merged from there with the same portable SQL as on DuckDB
(:func:`segmentum.ingest.merge.merge`: classify, ``UPDATE ... FROM``, ``INSERT``). The
staging table, the bare customers, the merge and the caller's records (``finish``) are one
transaction: a killed import leaves nothing behind, not even the staging table (PostgreSQL
DDL is transactional).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.csv as pa_csv

from segmentum.catalog.tables import Table
from segmentum.engine.bulk import load_arrow
from segmentum.engine.connection import Engine
from segmentum.ingest.merge import MergeCounts, create_missing_customers, merge
from segmentum.ingest.reading import q
from segmentum.ingest.references import Reference

R = TypeVar("R")


def _copy_out(pg: Any, sql: str, names: Sequence[str]) -> pa.Table:
    """The rows of ``sql`` as an Arrow table of strings (``COPY ... TO STDOUT``, CSV)."""
    buffer = io.BytesIO()
    with pg.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    if not buffer.tell():
        return pa.table({name: pa.array([], pa.string()) for name in names})
    buffer.seek(0)
    return pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(column_names=list(names)),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def known_keys(engine: Engine, con: Any, typed: str, name: str, reference: Reference) -> str:
    """Register in DuckDB ``name`` (one column, ``reference.column``): the file's values of
    that column that are stored in PostgreSQL's ``reference.target``. The distinct values
    are COPYed to a staging table and semi-joined there, so only those of the file that exist
    come back, never the target table."""
    column = q(reference.column)
    ids = con.execute(
        f"SELECT DISTINCT {column} FROM {typed} WHERE {column} IS NOT NULL"
    ).to_arrow_table()
    pg: Any = engine.backend.con
    stage = name + "_ids"
    with pg.transaction():
        pg.execute(f'CREATE UNLOGGED TABLE {q(stage)} ({column} text COLLATE "C")')
        load_arrow(engine, stage, ids)
        known = _copy_out(
            pg,
            f"SELECT s.{column} FROM {q(stage)} s WHERE EXISTS "
            f"(SELECT 1 FROM {q(reference.target)} t WHERE t.{column} = s.{column})",
            [reference.column],
        )
        pg.execute(f"DROP TABLE {q(stage)}")
    con.register(name + "_arrow", known)
    try:
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT {column} FROM {name}_arrow")
    finally:
        con.unregister(name + "_arrow")
    return name


def load_and_merge(
    engine: Engine,
    con: Any,
    target: Table,
    incoming: str,
    columns: Sequence[str],
    prefix: str,
    create_customers: bool,
    finish: Callable[[MergeCounts, int], R],
) -> R:
    """COPY the valid rows (DuckDB relation ``incoming``) to PostgreSQL and merge them.

    ``finish(counts, customers_created)`` runs inside the transaction, before the commit.
    """
    names = ", ".join(q(column) for column in columns)
    data = con.execute(f"SELECT {names} FROM {incoming}").to_arrow_table()
    pg: Any = engine.backend.con
    stage, work = prefix + "_stage", prefix + "_work"
    with pg.transaction():
        pg.execute(f"CREATE UNLOGGED TABLE {q(stage)} (LIKE {q(target.name)})")
        load_arrow(engine, stage, data)
        created = 0
        if create_customers:
            created = create_missing_customers(pg, q(stage))
        counts = merge(pg, target, q(stage), columns, q(work))
        pg.execute(f"DROP TABLE IF EXISTS {q(work)}")
        pg.execute(f"DROP TABLE {q(stage)}")
        if data.num_rows:
            pg.execute(f"ANALYZE {q(target.name)}")
        return finish(counts, created)
