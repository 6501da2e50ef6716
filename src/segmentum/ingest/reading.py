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

The format comes from the file name's last suffix (``orders.csv.parquet`` is Parquet), looking
through a final ``.gz``. What the file *holds* is checked from its first bytes before reading:
gzip is decompressed to a temporary file (CSV and JSON lines; Parquet compresses inside, so a
gzipped Parquet file is an error), and other archives or compressions, or a Parquet file named
as text, stop the import with a message saying what was found and what to do.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import shutil
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from segmentum.ingest.encoding import guess_encoding, is_utf8
from segmentum.ingest.errors import IngestError

FileFormat = Literal["csv", "parquet", "jsonl"]
_NULL_SENTINEL = "\x01\x02segmentum-no-null\x02\x01"
_DELIMITERS = (",", ";", "\t", "|")

#: The format of a file by its last suffix (after a final ``.gz``); any other suffix: CSV.
FORMAT_BY_SUFFIX: Mapping[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
GZIP_SUFFIXES = (".gz", ".gzip")
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
#: Leading bytes of containers the importer does not open, and what they are called.
_UNSUPPORTED_CONTAINERS: Mapping[bytes, str] = {
    b"PK\x03\x04": "a zip archive",
    b"BZh": "bzip2-compressed",
    b"\xfd7zXZ\x00": "xz-compressed",
    b"\x28\xb5\x2f\xfd": "zstd-compressed",
    b"7z\xbc\xaf\x27\x1c": "a 7z archive",
}


@dataclass(frozen=True)
class Staged:
    """The raw staging table and what its columns are called in the file."""

    table: str
    #: Source column name -> staging column name (c0, c1...).
    columns: dict[str, str]
    rows: int
    #: A temporary UTF-8 copy of a transcoded or decompressed file, removed by the caller.
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
    """``given``, else the format of the name's last suffix (a final ``.gz`` looked through):
    ``x.json.csv`` is CSV and ``orders.csv.parquet`` Parquet; an unknown suffix is CSV."""
    if given is not None:
        return given
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] in GZIP_SUFFIXES:
        suffixes.pop()
    return FORMAT_BY_SUFFIX.get(suffixes[-1], "csv") if suffixes else "csv"


def _is_gzip(path: Path, fmt: FileFormat) -> bool:
    """Whether ``path`` holds gzip (by its first bytes, whatever its name says); a container
    the importer cannot read, or a Parquet file given as text, is an error saying what to do."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_GZIP_MAGIC):
        if fmt == "parquet":
            raise IngestError(
                f"{path} is gzip-compressed Parquet; Parquet is compressed inside already: "
                f"gunzip it and import the .parquet file"
            )
        return True
    for magic, kind in _UNSUPPORTED_CONTAINERS.items():
        if head.startswith(magic):
            raise IngestError(
                f"{path} is {kind}; unpack it and import the CSV, Parquet or JSON-lines file "
                "inside (gzip, .gz, is read directly)"
            )
    if head.startswith(_PARQUET_MAGIC) and fmt != "parquet":
        raise IngestError(
            f"{path} is a Parquet file, not {'CSV' if fmt == 'csv' else 'JSON lines'}: "
            "name it .parquet or pass --file-format parquet"
        )
    return False


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


def _open_binary(path: Path, gzipped: bool) -> gzip.GzipFile | io.BufferedReader:
    return gzip.open(path, "rb") if gzipped else path.open("rb")


def _readable_copy(path: Path, encoding: str | None, gzipped: bool) -> Path | None:
    """A temporary uncompressed UTF-8 copy of ``path`` when it is gzip or in an ``encoding``
    other than UTF-8 (None: DuckDB reads the file itself). Streamed: one buffer in memory."""
    transcode = encoding is not None and not is_utf8(encoding)
    if not transcode and not gzipped:
        return None
    if transcode:
        try:
            codecs.lookup(str(encoding))
        except LookupError as error:
            raise IngestError(f"unknown encoding {encoding!r}") from error
    handle, name = tempfile.mkstemp(suffix=".txt", prefix="segmentum-import-")
    copy = Path(name)
    try:
        with _open_binary(path, gzipped) as source, open(handle, "wb") as target:
            if transcode:
                decoded = codecs.getreader(str(encoding))(source)
                while chunk := decoded.read(1 << 20):
                    target.write(chunk.encode("utf-8"))
            else:
                shutil.copyfileobj(source, target, 1 << 20)
    except UnicodeDecodeError as error:
        copy.unlink(missing_ok=True)
        raise IngestError(f"{path} is not valid {encoding}: {error}") from error
    except (OSError, EOFError, zlib.error) as error:
        copy.unlink(missing_ok=True)
        detail = getattr(error, "strerror", None) or str(error) or type(error).__name__
        what = "decompress" if gzipped else "read"
        raise IngestError(f"cannot {what} {path}: {detail}") from error
    return copy


def _read_csv(
    con: Any, table: str, path: Path, delimiter: str | None, encoding: str | None, gzipped: bool
) -> Staged:
    transcoded = _readable_copy(path, encoding, gzipped)
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
                raise _not_utf8(path, source) from error
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


def _not_utf8(path: Path, readable: Path) -> IngestError:
    """``path`` is not UTF-8; the encoding is guessed from ``readable`` (its uncompressed copy
    when it was gzip)."""
    guess = guess_encoding(readable)
    return IngestError(
        f"{path} is not valid UTF-8; it looks like {guess}: re-run with --encoding {guess}"
    )


def _read_jsonl(con: Any, table: str, path: Path, encoding: str | None, gzipped: bool) -> Staged:
    """One staging row per non-blank line, ``__row`` its line number in the file (blank lines
    counted). A line that is not valid JSON (``__bad_json``) or not an object
    (``__bad_count``) stays a row, with its text in ``__line``, so it is quarantined while
    the other lines load. A file that is one JSON document over several lines (an array, a
    pretty-printed object) is an error saying how to convert it."""
    transcoded = _readable_copy(path, encoding, gzipped)
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
                raise _not_utf8(path, source) from error
            raise IngestError(f"cannot read {path} as JSON lines: {_first_line(error)}") from error
        try:
            _check_json_lines(con, f"{table}_scan", path, source)
        except IngestError:
            con.execute(f"DROP TABLE IF EXISTS {table}_scan")
            raise
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


def _check_json_lines(con: Any, scan: str, path: Path, source: Path) -> None:
    """Stop a JSON-lines import that would only quarantine every line: an empty file, or one
    JSON document written over several lines. Only a file whose first line is not a JSON
    object pays for reading the whole text once more."""
    first = con.execute(f"SELECT kind FROM {scan} ORDER BY __row LIMIT 1").fetchone()
    if first is None:
        raise IngestError(f"{path} is empty: no JSON lines to import")
    if first[0] == "OBJECT":
        return
    document = con.execute(
        "SELECT CASE WHEN json_valid(text) THEN json_type(text) END FROM "
        "(SELECT ltrim(content, chr(65279)) AS text FROM read_text(?))",
        [str(source)],
    ).fetchone()
    kind = document[0] if document else None
    convert = f"jq -c '.[]' {path.name} > {path.stem}.jsonl"
    if kind == "ARRAY":
        raise IngestError(
            f"{path} holds one JSON array, not JSON lines (one object per line): "
            f"convert it first, e.g. {convert}"
        )
    if kind == "OBJECT":
        raise IngestError(
            f"{path} holds one JSON object written over several lines, not JSON lines (one "
            f"object per line): write each record on one line, e.g. jq -c . {path.name}"
        )


def stage_file(
    con: Any,
    table: str,
    path: Path,
    fmt: FileFormat,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Staged:
    """Read ``path`` into the temporary table ``table`` (see the module docstring)."""
    if path.is_dir():
        raise IngestError(
            f"{path} is a directory, not a file: import each file in it with its own "
            "command (one table per file)"
        )
    if not path.is_file():
        raise IngestError(f"no such file: {path}")
    try:
        gzipped = _is_gzip(path, fmt)
        if fmt == "csv":
            return _read_csv(con, table, path, delimiter, encoding, gzipped)
        if fmt == "parquet":
            return _read_parquet(con, table, path)
        return _read_jsonl(con, table, path, encoding, gzipped)
    except OSError as error:  # e.g. no permission to read it
        raise IngestError(f"cannot read {path}: {error.strerror or error}") from error
