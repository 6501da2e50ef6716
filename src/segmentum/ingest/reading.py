"""Reading a file into a staging table of text columns, one row per source record.

The staging table has one VARCHAR column per source column (named ``c0``, ``c1``... so no
file text ever becomes an identifier), ``__row`` (the 1-based record number, header
excluded) and ``__bad_count`` (the record has more or fewer fields than the header).

CSV is read by DuckDB's own parallel reader with every column as VARCHAR. Wrong field counts
are found in the same pass: the reader is given the header's columns plus one spare column
(``__extra``), ``null_padding`` (short records get NULL in missing fields), ``strict_mode``
off (long records do not abort the scan) and a ``nullstr`` no file contains, so an empty cell
reads as ``''`` and only a padded (missing) field is NULL. A record is too long when the
spare column is not NULL and too short when the last real column is NULL.
"""

from __future__ import annotations

import codecs
import csv
import io
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from segmentum.ingest.encoding import guess_encoding, is_utf8
from segmentum.ingest.errors import IngestError

FileFormat = Literal["csv", "parquet", "jsonl"]
_NULL_SENTINEL = "\x01\x02segmentum-no-null\x02\x01"
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class Staged:
    """The raw staging table and what its columns are called in the file."""

    table: str
    #: Source column name -> staging column name (c0, c1...).
    columns: dict[str, str]
    rows: int
    #: A temporary UTF-8 copy of a transcoded file, removed by the caller.
    transcoded: Path | None = None
    #: JSON lines: the table also has ``__bad_json`` (the line is not valid JSON) and
    #: ``__line`` (the line's text, kept for the quarantine).
    lines: bool = False


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A SQL string literal (for values already validated, e.g. zone names and formats)."""
    return "'" + value.replace("'", "''") + "'"


def json_path(key: str) -> str:
    """The JSON path (``$."key"``, quotes and backslashes escaped) of one object key."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def file_format(path: Path, given: FileFormat | None) -> FileFormat:
    if given is not None:
        return given
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if ".parquet" in suffixes or ".pq" in suffixes:
        return "parquet"
    if ".jsonl" in suffixes or ".ndjson" in suffixes or ".json" in suffixes:
        return "jsonl"
    return "csv"


def _header(path: Path, delimiter: str | None) -> tuple[list[str], str]:
    with path.open("rb") as handle:
        sample = handle.read(1 << 16)
    if sample.startswith(codecs.BOM_UTF8):
        sample = sample[len(codecs.BOM_UTF8) :]
    text = sample.decode("utf-8", errors="replace")
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise IngestError(f"{path} is empty or has no header row")
    if delimiter is None:
        delimiter = max(_DELIMITERS, key=lambda candidate: first_line.count(candidate))
        if first_line.count(delimiter) == 0:
            delimiter = ","
    header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
    names = [name.strip() for name in header]
    if len(set(names)) != len(names):
        raise IngestError(f"{path}: the header repeats a column name")
    return names, delimiter


def _transcode(path: Path, encoding: str) -> Path:
    try:
        codecs.lookup(encoding)
    except LookupError as error:
        raise IngestError(f"unknown encoding {encoding!r}") from error
    handle, name = tempfile.mkstemp(suffix=".csv", prefix="segmentum-import-")
    with (
        path.open("r", encoding=encoding, newline="") as source,
        open(handle, "w", encoding="utf-8", newline="") as target,
    ):
        try:
            shutil.copyfileobj(source, target, 1 << 20)
        except UnicodeDecodeError as error:
            raise IngestError(f"{path} is not valid {encoding}: {error}") from error
    return Path(name)


def _read_csv(
    con: Any, table: str, path: Path, delimiter: str | None, encoding: str | None
) -> Staged:
    transcoded: Path | None = None
    if encoding is not None and not is_utf8(encoding):
        transcoded = _transcode(path, encoding)
    source = transcoded or path
    try:
        names, delim = _header(source, delimiter)
        columns = {name: f"c{index}" for index, name in enumerate(names)}
        spec = ", ".join(f"'{column}': 'VARCHAR'" for column in columns.values())
        spec += ", '__extra': 'VARCHAR'"
        last = f"c{len(names) - 1}"

        def scan(parallel: bool) -> None:
            con.execute(
                f"""CREATE TEMP TABLE {table}_scan AS SELECT * FROM read_csv(?,
                    auto_detect=false, header=false, skip=1, delim={lit(delim)}, quote='"',
                    escape='"', columns={{{spec}}}, null_padding=true, strict_mode=false,
                    nullstr={lit(_NULL_SENTINEL)}, parallel={str(parallel).lower()})""",
                [str(source)],
            )

        try:
            try:
                scan(parallel=True)
            except Exception as error:
                if "parallel" not in str(error):
                    raise
                scan(parallel=False)  # quoted newlines + null_padding need the serial reader
        except Exception as error:
            if "unicode" in str(error).lower() or "utf-8" in str(error).lower():
                raise _not_utf8(path, error) from error
            raise IngestError(f"cannot read {path} as CSV: {_first_line(error)}") from error
        selected = ", ".join(columns.values())
        con.execute(
            f"""CREATE TEMP VIEW {table} AS SELECT rowid + 1 AS __row, {selected},
                (__extra IS NOT NULL OR {last} IS NULL) AS __bad_count FROM {table}_scan"""
        )
    except BaseException:
        if transcoded is not None:
            transcoded.unlink(missing_ok=True)
        raise
    rows = int(con.execute(f"SELECT count(*) FROM {table}_scan").fetchone()[0])
    return Staged(table, columns, rows, transcoded)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _read_parquet(con: Any, table: str, path: Path) -> Staged:
    try:
        described = con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
            [str(path)],
        ).fetchall()
    except Exception as error:
        raise IngestError(f"cannot read {path} as Parquet: {_first_line(error)}") from error
    columns = {str(name): f"c{index}" for index, (name, _) in enumerate(described)}
    parts = []
    for (name, column_type), staged in zip(described, columns.values(), strict=True):
        source = q(str(name))
        kind = str(column_type).upper()
        if kind.endswith("[]") or kind.startswith(("STRUCT", "MAP", "JSON")):
            parts.append(f"CAST(to_json({source}) AS VARCHAR) AS {staged}")
        elif "WITH TIME ZONE" in kind or kind == "TIMESTAMPTZ":
            parts.append(
                f"strftime(timezone('UTC', {source}), '%Y-%m-%dT%H:%M:%S.%fZ') AS {staged}"
            )
        else:
            parts.append(f"CAST({source} AS VARCHAR) AS {staged}")
    con.execute(
        f"""CREATE TEMP TABLE {table} AS SELECT file_row_number + 1 AS __row, {", ".join(parts)},
            false AS __bad_count FROM read_parquet(?, file_row_number=true)""",
        [str(path)],
    )
    rows = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return Staged(table, columns, rows)


def _not_utf8(path: Path, error: BaseException) -> IngestError:
    guess = guess_encoding(path)
    return IngestError(
        f"{path} is not valid UTF-8; it looks like {guess}: re-run with --encoding {guess}"
    )


def _read_jsonl(con: Any, table: str, path: Path, encoding: str | None) -> Staged:
    """One staging row per non-blank line, ``__row`` its line number in the file (blank lines
    counted). A line that is not valid JSON (``__bad_json``) or not an object
    (``__bad_count``) stays a row, with its text in ``__line``, so it is quarantined while
    the other lines load."""
    transcoded: Path | None = None
    if encoding is not None and not is_utf8(encoding):
        transcoded = _transcode(path, encoding)
    source = transcoded or path
    try:
        try:
            con.execute(
                f"""CREATE TEMP TABLE {table}_scan AS
                    SELECT n AS __row, line, CASE WHEN json_valid(line) THEN json_type(line) END
                    AS kind FROM (SELECT n, rtrim(CASE WHEN n = 1 THEN ltrim(line, chr(65279))
                    ELSE line END, chr(13)) AS line FROM (SELECT generate_subscripts(l, 1) AS n,
                    unnest(l) AS line FROM (SELECT string_split(content, chr(10)) AS l
                    FROM read_text(?))))
                    WHERE NOT regexp_full_match(line, '\\s*')""",
                [str(source)],
            )
            keys = con.execute(
                f"""SELECT k FROM (SELECT unnest(json_keys(line)) AS k, __row AS r
                    FROM {table}_scan WHERE kind = 'OBJECT') GROUP BY k ORDER BY min(r), k"""
            ).fetchall()
        except Exception as error:
            con.execute(f"DROP TABLE IF EXISTS {table}_scan")
            if "utf-8" in str(error).lower() or "unicode" in str(error).lower():
                raise _not_utf8(path, error) from error
            raise IngestError(f"cannot read {path} as JSON lines: {_first_line(error)}") from error
        columns = {str(key): f"c{index}" for index, (key,) in enumerate(keys)}
        obj = "CASE WHEN kind = 'OBJECT' THEN line END"
        parts = [
            f"json_extract_string({obj}, {lit(json_path(name))}) AS {staged}"
            for name, staged in columns.items()
        ]
        select = ", ".join(
            [
                "__row",
                *parts,
                "coalesce(kind <> 'OBJECT', false) AS __bad_count",
                "kind IS NULL AS __bad_json",
                "line AS __line",
            ]
        )
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT {select} FROM {table}_scan")
        con.execute(f"DROP TABLE {table}_scan")
    except BaseException:
        if transcoded is not None:
            transcoded.unlink(missing_ok=True)
        raise
    rows = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return Staged(table, columns, rows, transcoded, lines=True)


def stage_file(
    con: Any,
    table: str,
    path: Path,
    fmt: FileFormat,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Staged:
    """Read ``path`` into the temporary table ``table`` (see the module docstring)."""
    if not path.is_file():
        raise IngestError(f"no such file: {path}")
    if fmt == "csv":
        return _read_csv(con, table, path, delimiter, encoding)
    if fmt == "parquet":
        return _read_parquet(con, table, path)
    return _read_jsonl(con, table, path, encoding)
