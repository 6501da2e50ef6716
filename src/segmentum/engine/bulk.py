"""Bulk loading of Arrow tables into catalog tables, the fast way on each engine.

Columns are matched by name and cast to the table's types; table columns the data lacks are
NULL; a data column the table lacks is an error (nothing is dropped silently). DuckDB reads the
Arrow table in place; PostgreSQL gets ``COPY ... FROM STDIN`` (CSV written by Arrow, not row
inserts) and ``ANALYZE``; Spark gets an Arrow-backed DataFrame and ``insertInto`` (no
memtables: those lost NULL integers on Spark).
"""

from __future__ import annotations

import io
import uuid
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from segmentum.engine.connection import Engine, EngineError, EngineKind

LoadMode = Literal["append", "replace"]
#: Rows per CSV chunk sent to PostgreSQL.
COPY_BATCH_ROWS = 50_000


def load_arrow(engine: Engine, table: str, data: pa.Table, mode: LoadMode = "append") -> int:
    """Load ``data`` into the existing ``table``; returns the number of rows loaded."""
    if mode not in ("append", "replace"):
        raise ValueError(f"mode must be 'append' or 'replace', not {mode!r}")
    if not engine.has_table(table):
        raise EngineError(f"table {table!r} does not exist; create it with ensure_schema first")
    target = engine.table(table).schema().to_pyarrow()
    aligned = align(data, target, table)
    if engine.kind is EngineKind.DUCKDB:
        _load_duckdb(engine, table, aligned, mode)
    elif engine.kind is EngineKind.POSTGRES:
        _load_postgres(engine, table, aligned, mode)
    else:
        _load_spark(engine, table, aligned, mode)
    return int(aligned.num_rows)


def align(data: pa.Table, target: pa.Schema, table: str = "table") -> pa.Table:
    """``data`` with exactly the target's columns, in its order and types (missing ones NULL)."""
    names = data.column_names
    if len(set(names)) != len(names):
        duplicated = sorted({name for name in names if names.count(name) > 1})
        raise EngineError(f"duplicate column(s) for {table}: {', '.join(duplicated)}")
    unknown = [name for name in names if name not in target.names]
    if unknown:
        raise EngineError(f"{table} has no column(s) {', '.join(unknown)}")
    columns: list[pa.ChunkedArray | pa.Array] = []
    for field in target:
        if field.name not in names:
            columns.append(pa.nulls(data.num_rows, field.type))
            continue
        column = data.column(field.name)
        if column.type != field.type:
            try:
                column = pc.cast(column, field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise EngineError(
                    f"{table}.{field.name}: cannot convert {column.type} to {field.type}: {error}"
                ) from error
        columns.append(column)
    schema = pa.schema([pa.field(field.name, field.type, nullable=True) for field in target])
    return pa.Table.from_arrays(columns, schema=schema)


def _column_list(engine: Engine, data: pa.Table) -> str:
    return ", ".join(engine.quote(name) for name in data.column_names)


def _load_duckdb(engine: Engine, table: str, data: pa.Table, mode: LoadMode) -> None:
    con: Any = engine.backend.con
    view = f"_segmentum_load_{uuid.uuid4().hex}"
    columns = _column_list(engine, data)
    con.register(view, data)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            if mode == "replace":
                con.execute(f"DELETE FROM {engine.quote(table)}")
            con.execute(
                f"INSERT INTO {engine.quote(table)} ({columns}) SELECT {columns} FROM {view}"
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.unregister(view)


def postgres_array_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A list<string> column as PostgreSQL array literals: ["a", None] -> {"a",NULL}."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    values = pc.cast(column.values, pa.string())
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    quoted = pc.fill_null(pc.binary_join_element_wise('"', escaped, '"', ""), "NULL")
    rebuilt = pa.ListArray.from_arrays(column.offsets, quoted, mask=column.is_null())
    joined = pc.binary_join(rebuilt, ",")
    return pc.binary_join_element_wise("{", joined, "}", "")


def _copy_ready(data: pa.Table) -> pa.Table:
    """Columns Arrow's CSV writer cannot write (lists) as PostgreSQL text."""
    for index, field in enumerate(data.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            data = data.set_column(index, field.name, postgres_array_text(data.column(index)))
    return data


def _load_postgres(engine: Engine, table: str, data: pa.Table, mode: LoadMode) -> None:
    con: Any = engine.backend.con
    ready = _copy_ready(data)
    copy_sql = (
        f"COPY {engine.quote(table)} ({_column_list(engine, ready)}) FROM STDIN "
        "(FORMAT csv, NULL '')"
    )
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    with con.transaction(), con.cursor() as cursor:
        if mode == "replace":
            cursor.execute(f"TRUNCATE {engine.quote(table)}")
        with cursor.copy(copy_sql) as copy:
            for batch in ready.to_batches(max_chunksize=COPY_BATCH_ROWS):
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, options)
                copy.write(buffer.getvalue())
    with con.cursor() as cursor:
        cursor.execute(f"ANALYZE {engine.quote(table)}")


def _load_spark(engine: Engine, table: str, data: pa.Table, mode: LoadMode) -> None:
    session: Any = engine.backend._session
    schema = session.table(engine.quote(table)).schema
    frame = session.createDataFrame(data, schema=schema)
    frame.write.insertInto(engine.quote(table), overwrite=mode == "replace")
