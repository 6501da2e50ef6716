"""What a file is: its format by the last suffix, gzip, and the shapes that stop an import.

Every case is a table of input -> exact outcome (format, stored rows, or the one-line error).
"""

from __future__ import annotations

import gzip
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentum.ingest.errors import IngestError
from segmentum.ingest.reading import FileFormat, file_format
from segmentum.service.imports import ImportOptions, import_file
from segmentum.service.workspace import Workspace
from tests.ingest.test_import_cli import _run


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(str(tmp_path / "shapes.duckdb"))
    yield workspace
    workspace.close()


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Decompressed copies go to a directory of this test, so a leftover is seen."""
    directory = tmp_path / "tempdir"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def stored(ws: Workspace) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in ws.engine.raw_sql(
            "SELECT customer_id, first_name FROM customers ORDER BY 1"
        ).fetchall()
    ]


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def zip_bytes(name: str, data: bytes) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr(name, data)
    return sink.getvalue()


CSV = b"customer_id,first_name\nK1,Jan\nK2,Eva\n"
JSONL = b'{"customer_id":"K1","first_name":"Jan"}\n{"customer_id":"K2","first_name":"Eva"}\n'
PARQUET = parquet_bytes(pa.table({"customer_id": ["K1", "K2"], "first_name": ["Jan", "Eva"]}))
BOTH = [("K1", "Jan"), ("K2", "Eva")]


# --- 1. the format is the last suffix ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("orders.csv.parquet", None, "parquet"),
        ("x.json.csv", None, "csv"),
        ("x.parquet.jsonl", None, "jsonl"),
        ("x.jsonl.parquet", None, "parquet"),
        ("export.parquet.csv", None, "csv"),
        ("x.csv.gz", None, "csv"),
        ("x.jsonl.gz", None, "jsonl"),
        ("x.NDJSON.GZ", None, "jsonl"),
        ("x.json.gzip", None, "jsonl"),
        ("x.JSON", None, "jsonl"),
        ("x.pq", None, "parquet"),
        ("x.tsv", None, "csv"),
        ("report.2024.01.csv", None, "csv"),
        ("x.parquet.bak", None, "csv"),
        ("noextension", None, "csv"),
        ("x.gz", None, "csv"),
        ("x.csv", "jsonl", "jsonl"),
        ("x.json.csv", "parquet", "parquet"),
    ],
)
def test_format_is_the_last_suffix(name: str, given: FileFormat | None, expected: str) -> None:
    assert file_format(Path(name), given) == expected


@pytest.mark.parametrize(
    # mtime=0: the ids hold the bytes, and gzip would stamp the current second in them (the
    # xdist workers then collected different tests)
    ("name", "content"),
    [
        ("orders.csv.parquet", PARQUET),
        ("x.json.csv", CSV),
        ("x.parquet.jsonl", JSONL),
        ("x.csv.gz", gzip.compress(CSV, mtime=0)),
        ("x.jsonl.gz", gzip.compress(JSONL, mtime=0)),
        ("x.json.gz", gzip.compress(JSONL, mtime=0)),
        ("x.ndjson.gzip", gzip.compress(JSONL, mtime=0)),
        # gzip is recognised by its bytes, whatever the name says
        ("x.csv", gzip.compress(CSV, mtime=0)),
    ],
)
def test_files_load_by_their_last_suffix_and_gzip_is_read(
    ws: Workspace, tmp_path: Path, private_tempdir: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    summary = import_file(ws, "customers", path, ImportOptions())
    assert (summary.loaded, summary.rejected) == (2, 0)
    assert stored(ws) == BOTH
    assert list(private_tempdir.iterdir()) == []  # the decompressed copy is removed


def test_gzip_in_another_encoding(ws: Workspace, tmp_path: Path, private_tempdir: Path) -> None:
    path = tmp_path / "ru.csv.gz"
    path.write_bytes(gzip.compress("customer_id,first_name\nR1,Иван\n".encode("cp1251")))
    with pytest.raises(IngestError) as error:
        import_file(ws, "customers", path, ImportOptions())
    assert str(error.value) == (
        f"{path} is not valid UTF-8; it looks like cp1251: re-run with --encoding cp1251"
    )
    summary = import_file(ws, "customers", path, ImportOptions(encoding="cp1251"))
    assert (summary.loaded, summary.rejected) == (1, 0)
    assert stored(ws) == [("R1", "Иван")]
    assert list(private_tempdir.iterdir()) == []


def test_gzip_rows_are_quarantined_with_their_row_numbers(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "c.csv.gz"
    path.write_bytes(gzip.compress(b"customer_id,email\nG1,g@x.cz\nG2,nope\n,h@x.cz\n"))
    summary = import_file(ws, "customers", path, ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (
        1,
        {"bad_email": 1, "missing_required": 1},
    )
    assert (tmp_path / "c.csv.gz.rejected.csv").read_text(encoding="utf-8").splitlines() == [
        '"row_number","reasons","customer_id","email"',
        '2,"bad_email","G2","nope"',
        '3,"missing_required","","h@x.cz"',
    ]


# --- 2. file shapes that cannot load: one clear error, nothing loaded --------------------------

SHAPES: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "folder",
        lambda path: path.mkdir(),
        "{path} is a directory, not a file: import each file in it with its own command "
        "(one table per file)",
    ),
    (
        "arr.json",
        lambda path: path.write_bytes(b'[{"customer_id":"A1"},{"customer_id":"A2"}]\n'),
        "{path} holds one JSON array, not JSON lines (one object per line): convert it "
        "first, e.g. jq -c '.[]' arr.json > arr.jsonl",
    ),
    (
        "pretty.json",
        lambda path: path.write_bytes(b'[\n  {"customer_id": "A1"},\n  {"customer_id": "A2"}\n]'),
        "{path} holds one JSON array, not JSON lines (one object per line): convert it "
        "first, e.g. jq -c '.[]' pretty.json > pretty.jsonl",
    ),
    (
        "bom.json",
        lambda path: path.write_bytes(b'\xef\xbb\xbf[\r\n{"customer_id": "A1"}\r\n]\r\n'),
        "{path} holds one JSON array, not JSON lines (one object per line): convert it "
        "first, e.g. jq -c '.[]' bom.json > bom.jsonl",
    ),
    (
        "arr.json.gz",
        lambda path: path.write_bytes(gzip.compress(b'[{"customer_id":"A1"}]')),
        "{path} holds one JSON array, not JSON lines (one object per line): convert it "
        "first, e.g. jq -c '.[]' arr.json.gz > arr.json.jsonl",
    ),
    (
        "one.json",
        lambda path: path.write_bytes(b'{\n  "customer_id": "A1"\n}\n'),
        "{path} holds one JSON object written over several lines, not JSON lines (one "
        "object per line): write each record on one line, e.g. jq -c . one.json",
    ),
    (
        "empty.jsonl",
        lambda path: path.write_bytes(b""),
        "{path} is empty: no JSON lines to import",
    ),
    (
        "blank.jsonl",
        lambda path: path.write_bytes(b"\n  \n"),
        "{path} is empty: no JSON lines to import",
    ),
    (
        "x.parquet.gz",
        lambda path: path.write_bytes(gzip.compress(PARQUET)),
        "{path} is gzip-compressed Parquet; Parquet is compressed inside already: gunzip it "
        "and import the .parquet file",
    ),
    (
        "x.csv.zip",
        lambda path: path.write_bytes(zip_bytes("x.csv", CSV)),
        "{path} is a zip archive; unpack it and import the CSV, Parquet or JSON-lines file "
        "inside (gzip, .gz, is read directly)",
    ),
    (
        "x.csv.bz2",
        lambda path: path.write_bytes(b"BZh91AY&SY" + bytes(20)),
        "{path} is bzip2-compressed; unpack it and import the CSV, Parquet or JSON-lines file "
        "inside (gzip, .gz, is read directly)",
    ),
    (
        "x.csv",
        lambda path: path.write_bytes(PARQUET),
        "{path} is a Parquet file, not CSV: name it .parquet or pass --file-format parquet",
    ),
    (
        "x.jsonl",
        lambda path: path.write_bytes(PARQUET),
        "{path} is a Parquet file, not JSON lines: name it .parquet or pass --file-format parquet",
    ),
    (
        "cut.csv.gz",
        lambda path: path.write_bytes(gzip.compress(CSV)[:20]),
        "cannot decompress {path}: Compressed file ended before the end-of-stream marker was "
        "reached",
    ),
    (
        "bad.csv.gz",
        lambda path: path.write_bytes(b"\x1f\x8b" + bytes(30)),
        "cannot decompress {path}: Unknown compression method",
    ),
]


@pytest.mark.parametrize(("name", "make", "message"), SHAPES, ids=[name for name, _, _ in SHAPES])
def test_file_shapes_that_cannot_load_stop_with_one_clear_error(
    ws: Workspace,
    tmp_path: Path,
    private_tempdir: Path,
    name: str,
    make: Callable[[Path], None],
    message: str,
) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(IngestError) as error:
        import_file(ws, "customers", path, ImportOptions())
    assert str(error.value) == message.format(path=path)
    assert stored(ws) == []
    assert ws.engine.raw_sql("SELECT count(*) FROM imports").fetchall() == [(0,)]
    assert list(private_tempdir.iterdir()) == []


def test_a_jsonl_file_starting_with_a_bad_line_still_loads_its_objects(
    ws: Workspace, tmp_path: Path
) -> None:
    """Only a file that is *one* JSON document is refused; a first line that is an array in a
    real JSON-lines file is quarantined like any bad line."""
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'[1,2]\n{"customer_id":"J1","first_name":"Jan"}\n')
    summary = import_file(ws, "customers", path, ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (
        1,
        {"missing_required": 1, "wrong_column_count": 1},
    )
    assert stored(ws) == [("J1", "Jan")]


# --- no traceback reaches the CLI user ----------------------------------------------------------

CLI_CASES = ["folder", "arr.json", "x.parquet.gz", "x.csv.zip", "cut.csv.gz"]


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_prints_one_line_and_no_traceback(tmp_path: Path, name: str) -> None:
    make, message = next((make, message) for n, make, message in SHAPES if n == name)
    path = tmp_path / name
    make(path)
    code, out, err = _run(tmp_path / "w.duckdb", "customers", str(path))
    assert (code, out) == (1, "")
    assert "Traceback" not in err
    assert err.strip() == "error: " + message.format(path=path)
