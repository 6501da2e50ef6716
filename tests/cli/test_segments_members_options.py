"""`segments members` after the audit: CSV cells neutralised like `export`, the table's
1,000-row cut said on stderr, `--at` checked (no --as-of, no --columns, no future day) with a
note when the log knows nothing of that day, and help text for every NAME argument."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.runner import run

HEADER = [
    "customer_id", "first_name", "last_name", "country", "signup_at", "lead_stage", "tags",
    "phone",
]  # fmt: skip
FORMULA_ROWS = [
    ["f1", '=HYPERLINK("http://x")', "+SUM(1+1)", "CZ", "2024-01-01", "customer", "=vip;gold",
     "+420603123456"],
    ["f2", "-2+3", "@cmd", "CZ", "2024-01-01", "customer", "vip", "+420603000001"],
    ["f3", "Anna", "Plain", "CZ", "2024-01-01", "customer", "", ""],
]  # fmt: skip
MANY = 1234
NOTE_1234 = "showing 1,000 of 1,234 members; use --format csv or json for all\n"


def ok(db: Path, *args: str) -> str:
    result = run(db, *args)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audit_members")
    customers = folder / "customers.csv"
    many = [[f"p{i:05d}", "N", "M", "PL", "2024-01-01", "customer", "", ""] for i in range(MANY)]
    with customers.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, *FORMULA_ROWS, *many])
    for size in (1000, 1001):
        (folder / f"list{size}.txt").write_text(
            "".join(f"p{i:05d}\n" for i in range(size)), encoding="utf-8"
        )
    db = folder / "shop.duckdb"
    ok(db, "import", "customers", str(customers))
    ok(db, "segments", "create", "cz", "--where", 'country = "CZ"')
    ok(db, "segments", "create", "pl", "--where", 'country = "PL"')
    for size in (1000, 1001):
        ok(db, "segments", "upload-list", f"list{size}", str(folder / f"list{size}.txt"))
        ok(db, "segments", "create", f"first{size}", "--where", f"in_list(list{size})")
    ok(db, "segments", "create", "nobody", "--where", 'country = "XX"')
    ok(db, "segments", "refresh", "--as-of", "2024-06-01")
    ok(db, "segments", "create", "late", "--where", 'country = "CZ" and has_tag(vip)')
    return db


# --- 1. CSV formula injection -----------------------------------------------------------------

CSV_CASES = [
    (
        "first_name,last_name,tags,phone",
        "customer_id,first_name,last_name,tags,phone\n"
        'f1,"\'=HYPERLINK(""http://x"")",\'+SUM(1+1),"[""=vip"", ""gold""]",+420603123456\n'
        'f2,\'-2+3,\'@cmd,"[""vip""]",+420603000001\n'
        "f3,Anna,Plain,,\n",
    ),
    (
        "last_name",
        "customer_id,last_name\nf1,'+SUM(1+1)\nf2,'@cmd\nf3,Plain\n",
    ),
    ("", "customer_id\nf1\nf2\nf3\n"),
]


@pytest.mark.parametrize(("columns", "expected"), CSV_CASES)
def test_members_csv_neutralises_formulas(shop: Path, columns: str, expected: str) -> None:
    out = ok(shop, "segments", "members", "cz", "--columns", columns, "-f", "csv")
    assert out == expected


def test_members_csv_cells_match_export(shop: Path, tmp_path: Path) -> None:
    columns = "first_name,last_name,phone"
    listed = ok(shop, "segments", "members", "cz", "--columns", columns, "-f", "csv")
    exported = tmp_path / "cz.csv"
    ok(shop, "segments", "export", "cz", str(exported), "--columns", columns)
    from_members = list(csv.reader(io.StringIO(listed)))
    from_export = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8"))))
    assert from_members == from_export
    assert from_members[1] == ["f1", '\'=HYPERLINK("http://x")', "'+SUM(1+1)", "+420603123456"]


def test_members_json_keeps_values_as_they_are(shop: Path) -> None:
    out = ok(shop, "segments", "members", "cz", "--columns", "first_name,tags", "-f", "json")
    assert json.loads(out) == [
        {"customer_id": "f1", "first_name": '=HYPERLINK("http://x")', "tags": ["=vip", "gold"]},
        {"customer_id": "f2", "first_name": "-2+3", "tags": ["vip"]},
        {"customer_id": "f3", "first_name": "Anna", "tags": None},
    ]


# --- 6. the table's 1,000-row cut ---------------------------------------------------------------

TABLE_CASES = [
    ("pl", [], 1000, NOTE_1234),
    ("first1000", [], 1000, ""),
    ("first1001", [], 1000, "showing 1,000 of 1,001 members; use --format csv or json for all\n"),
    ("cz", [], 3, ""),
    ("pl", ["--at", "2024-06-01"], 1000, NOTE_1234),
]


@pytest.mark.parametrize(("segment", "extra", "rows", "note"), TABLE_CASES)
def test_table_says_when_it_cuts(
    shop: Path, segment: str, extra: list[str], rows: int, note: str
) -> None:
    result = run(shop, "segments", "members", segment, *extra)
    assert result.returncode == 0, result.stderr
    assert result.stderr == note
    shown = [line for line in result.stdout.splitlines() if line.startswith("│ ")]
    assert len(shown) == rows


@pytest.mark.parametrize(("fmt", "lines"), [("csv", MANY + 1), ("json", 1)])
def test_csv_and_json_list_everyone_without_a_note(shop: Path, fmt: str, lines: int) -> None:
    result = run(shop, "segments", "members", "pl", "-f", fmt)
    assert result.returncode == 0
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == lines
    if fmt == "json":
        assert len(json.loads(result.stdout)) == MANY


# --- 5. members --at ----------------------------------------------------------------------------

AT_CASES = [
    ("cz", ["--at", "2024-06-01", "-f", "csv"], 0, "customer_id\nf1\nf2\nf3\n", ""),
    ("cz", ["--at", "2024-06-30", "-f", "json"], 0,
     '[{"customer_id": "f1"},{"customer_id": "f2"},{"customer_id": "f3"}]\n', ""),
    ("cz", ["--at", "2024-05-31", "-f", "csv"], 0, "customer_id\n",
     "note: the membership log of cz has nothing at or before 2024-05-31 (its first entry is on "
     "2024-06-01; the segment may not have been refreshed by then)\n"),
    ("late", ["--at", "2024-06-01", "-f", "json"], 0, "[]\n",
     "note: the membership log of late has nothing at or before 2024-06-01 (it has no entries "
     "yet; has the segment been refreshed (segments refresh)?)\n"),
    ("cz", ["--at", "2024-06-01", "--as-of", "2024-06-01"], 1, "",
     "error: give --at DAY (members from the log) or --as-of DAY (evaluated now), not both\n"),
    ("cz", ["--at", "2024-06-01", "--columns", "first_name"], 1, "",
     "error: --columns cannot be used with --at: the membership log holds customer ids only\n"),
    ("nope", ["--at", "2024-06-01"], 1, "", "error: no segment named 'nope'\n"),
]  # fmt: skip


@pytest.mark.parametrize(("segment", "args", "code", "stdout", "stderr"), AT_CASES)
def test_members_at(
    shop: Path, segment: str, args: list[str], code: int, stdout: str, stderr: str
) -> None:
    result = run(shop, "segments", "members", segment, *args)
    assert (result.returncode, result.stdout, result.stderr) == (code, stdout, stderr)


def test_members_at_refuses_a_future_day(shop: Path) -> None:
    before = datetime.now(UTC).date()
    tomorrow = before + timedelta(days=1)
    result = run(shop, "segments", "members", "cz", "--at", tomorrow.isoformat())
    after = datetime.now(UTC).date()
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr in {
        f"error: --at {tomorrow.isoformat()} is in the future (today is {today.isoformat()} in "
        "UTC): the membership log knows only the past\n"
        for today in (before, after)
    }


def test_members_at_today_is_allowed(shop: Path) -> None:
    today = datetime.now(UTC).date().isoformat()
    result = run(shop, "segments", "members", "cz", "--at", today, "-f", "csv")
    assert (result.returncode, result.stdout, result.stderr) == (0, "customer_id\nf1\nf2\nf3\n", "")


def test_a_segment_that_was_always_empty_gets_a_note_not_an_error(shop: Path) -> None:
    result = run(shop, "segments", "members", "nobody", "--at", "2024-06-01", "-f", "csv")
    assert result.returncode == 0
    assert result.stdout == "customer_id\n"
    assert result.stderr.startswith("note: the membership log of nobody has nothing at or before")


# --- 7. help for NAME -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", ["members", "explain", "sql", "history", "export", "show", "delete"]
)
def test_name_argument_has_help(shop: Path, command: str) -> None:
    out = ok(shop, "segments", command, "--help")
    arguments = out.split("Arguments:")[1].split("Options:")[0]
    name_line = next(line for line in arguments.splitlines() if line.strip().startswith("name"))
    assert "Segment name (segmentum segments list shows them)." in name_line
