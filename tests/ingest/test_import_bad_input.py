"""Regressions from the import audit: every case a table of input -> exact outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from segmentum.ingest import importer
from segmentum.ingest.errors import IngestError
from segmentum.ingest.normalize import country_codes
from segmentum.ingest.reading import json_path
from segmentum.service.imports import ImportOptions, import_file
from segmentum.service.workspace import Workspace

NOW = datetime(2025, 6, 1, 12, 0, 0)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(str(tmp_path / "audit.duckdb"))
    yield workspace
    workspace.close()


def sql(ws: Workspace, statement: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in ws.engine.raw_sql(statement).fetchall()]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def quarantined(ws: Workspace, table: str) -> list[tuple[Any, ...]]:
    return sql(
        ws,
        f"SELECT row_number, reasons, raw FROM quarantine WHERE table_name = '{table}' "
        "ORDER BY row_number",
    )


def run(ws: Workspace, table: str, path: Path, options: ImportOptions | None = None) -> Any:
    """The importer with a fixed `now` (the far-future rule): the result."""
    return importer.import_file(
        ws.engine, ws.catalog, ws.settings, table, path, options or ImportOptions(), now=NOW
    )


def with_order_o1(ws: Workspace, tmp_path: Path) -> None:
    """Customer C1 and its order O1, so that items of O1 are not `unknown_order`."""
    run(ws, "customers", write(tmp_path, "c1.csv", "customer_id\nC1\n"))
    orders = "order_id,customer_id,ordered_at,amount\nO1,C1,2025-01-01,10\n"
    assert run(ws, "orders", write(tmp_path, "o1.csv", orders)).summary.loaded == 1


def rejected(result: Any) -> list[tuple[int, str]]:
    """(row number, ;-joined reasons) of the rejected rows of an importer result."""
    return [(row["row_number"], ";".join(row["reasons"])) for row in result.rejected.to_pylist()]


# --- 1. countries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Polska", "PL"),
        ("polska", "PL"),
        ("Slovensko", "SK"),
        ("Magyarország", "HU"),
        ("Magyarorszag", "HU"),
        ("Україна", "UA"),
        ("Österreich", "AT"),
        ("Osterreich", "AT"),
        ("Česko", "CZ"),
        ("Россия", "RU"),
        ("Deutschland", "DE"),
        ("Poland", "PL"),
        ("POL", "PL"),
        ("Nowhere", None),
    ],
)
def test_country_names_resolve(raw: str, code: str | None) -> None:
    table = country_codes(pa.array([raw], pa.string()))
    assert table.to_pylist() == [{"raw": raw, "value": code}]
    assert table.schema.field("value").type == pa.string()


@pytest.mark.parametrize(
    ("countries", "stored", "bad"),
    [
        (["Polska"], [("Y1", "PL")], []),
        (["Nowhere"], [], [(1, "bad_country")]),
        (["Nowhere", "Atlantis"], [], [(1, "bad_country"), (2, "bad_country")]),
    ],
)
def test_a_file_where_no_country_resolves_is_quarantined_not_a_crash(
    ws: Workspace,
    tmp_path: Path,
    countries: list[str],
    stored: list[tuple[str, str]],
    bad: list[tuple[int, str]],
) -> None:
    lines = [f"Y{n},{country}" for n, country in enumerate(countries, start=1)]
    path = write(tmp_path, "c.csv", "customer_id,country\n" + "\n".join(lines) + "\n")
    result = run(ws, "customers", path)
    assert (result.summary.loaded, result.summary.rejected) == (len(stored), len(bad))
    assert sql(ws, "SELECT customer_id, country FROM customers ORDER BY 1") == stored
    assert rejected(result) == bad


# --- 2b. far-future record times ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changed_at", "reasons"),
    [
        ("2099-01-01T00:00:00Z", "future_timestamp"),
        ("2025-06-02T12:00:01Z", "future_timestamp"),
        ("2025-06-02T12:00:00Z", None),
        ("2025-06-01T12:00:00Z", None),
        ("2020-01-01", None),
    ],
)
def test_subscription_changed_at_more_than_24_hours_ahead_is_rejected(
    ws: Workspace, tmp_path: Path, changed_at: str, reasons: str | None
) -> None:
    write(tmp_path, "c.csv", "customer_id\nC1\n")
    run(ws, "customers", tmp_path / "c.csv")
    path = write(
        tmp_path, "s.csv", f"customer_id,channel,status,changed_at\nC1,sms,opted_in,{changed_at}\n"
    )
    result = run(ws, "subscriptions", path)
    assert result.summary.loaded == (0 if reasons else 1)
    assert rejected(result) == ([(1, reasons)] if reasons else [])


@pytest.mark.parametrize(
    ("ordered_at", "loaded", "reasons"),
    [
        ("2125-01-01T00:00:00Z", 0, ["future_timestamp"]),
        ("2025-06-01T11:00:00Z", 1, []),
    ],
)
def test_order_time_far_in_the_future_is_rejected(
    ws: Workspace, tmp_path: Path, ordered_at: str, loaded: int, reasons: list[str]
) -> None:
    path = write(
        tmp_path, "o.csv", f"order_id,customer_id,ordered_at,amount\nO1,C1,{ordered_at},10\n"
    )
    result = run(ws, "orders", path, ImportOptions(create_customers=True))
    assert result.summary.loaded == loaded
    assert [r for _, r in rejected(result)] == reasons


@pytest.mark.parametrize(
    ("column", "value", "loaded", "reasons"),
    [
        ("ordered_at", "0001-01-01T00:00:00Z", 0, ["implausible_date"]),
        ("ordered_at", "1899-12-31T23:59:59Z", 0, ["implausible_date"]),
        ("ordered_at", "1900-01-01T00:00:00Z", 1, []),
        ("ordered_at", "1985-05-05T10:00:00Z", 1, []),
    ],
)
def test_times_before_1900_are_implausible(
    ws: Workspace, tmp_path: Path, column: str, value: str, loaded: int, reasons: list[str]
) -> None:
    path = write(tmp_path, "o.csv", f"order_id,customer_id,{column},amount\nO1,C1,{value},10\n")
    result = run(ws, "orders", path, ImportOptions(create_customers=True))
    assert result.summary.loaded == loaded
    assert [r for _, r in rejected(result)] == reasons


@pytest.mark.parametrize(
    ("birth_date", "loaded", "reasons"),
    [("0001-01-01", 0, ["implausible_date"]), ("1930-02-03", 1, [])],
)
def test_dates_before_1900_are_implausible(
    ws: Workspace, tmp_path: Path, birth_date: str, loaded: int, reasons: list[str]
) -> None:
    path = write(tmp_path, "c.csv", f"customer_id,birth_date\nC1,{birth_date}\n")
    result = run(ws, "customers", path)
    assert result.summary.loaded == loaded
    assert [r for _, r in rejected(result)] == reasons


# --- 3. events.properties -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "reasons"),
    [
        ("{bad", "bad_json"),
        ('"{""a"":1"', "bad_json"),
        ('"[1,2]"', "bad_json"),
        ("42", "bad_json"),
        ('"{""url"":""x""}"', None),
    ],
)
def test_properties_that_are_not_a_json_object_reject_only_their_row(
    ws: Workspace, tmp_path: Path, cell: str, reasons: str | None
) -> None:
    path = write(
        tmp_path,
        "e.csv",
        "event_id,customer_id,type,occurred_at,properties\n"
        f"E1,C1,page_view,2025-01-01T00:00:00Z,{cell}\n"
        'E2,C1,page_view,2025-01-01T00:00:00Z,"{}"\n',
    )
    result = run(ws, "events", path, ImportOptions(create_customers=True))
    assert (result.summary.loaded, result.summary.rejected) == ((1, 1) if reasons else (2, 0))
    assert rejected(result) == ([(1, reasons)] if reasons else [])


def test_a_tags_cell_that_is_broken_json_is_bad_list(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", 'customer_id,tags\nC1,"[""a"","\nC2,a;b\n')
    result = run(ws, "customers", path)
    assert (result.summary.loaded, result.summary.rejected) == (1, 1)
    assert rejected(result) == [(1, "bad_list")]


# --- 4. whole numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "stored"),
    [
        ("3", 3),
        (" 3 ", 3),
        ("+3", 3),
        ("0", 0),
        ("007", 7),
        ("2.7", None),
        ("1.5", None),
        ("2.0", None),
        ("0x10", None),
        ("1_000", None),
        ("1e2", None),
        ("abc", None),
        ("-1", None),
        ("99999999999999999999", None),
    ],
)
def test_quantity_must_be_a_whole_number(
    ws: Workspace, tmp_path: Path, quantity: str, stored: int | None
) -> None:
    with_order_o1(ws, tmp_path)
    path = write(
        tmp_path, "i.csv", f'order_id,product_id,quantity,unit_price\nO1,P1,"{quantity}",1.50\n'
    )
    summary = run(ws, "order_items", path).summary
    assert sql(ws, "SELECT quantity FROM order_items") == (
        [(stored,)] if stored is not None else []
    )
    assert summary.rejected_by_reason == ({} if stored is not None else {"bad_number": 1})


# --- 5. --date-format -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date_format", "message"),
    [
        (
            "%Q",
            "--date-format '%Q' is not valid: Failed to parse format specifier %Q: "
            "Unrecognized format for strftime/strptime: %Q",
        ),
        (
            "%Y-%",
            "--date-format '%Y-%' is not valid: Failed to parse format specifier %Y-%: "
            "Trailing format character %",
        ),
        ("dd.mm.yyyy", "--date-format 'dd.mm.yyyy' has no % directive (e.g. %d.%m.%Y %H:%M)"),
    ],
)
def test_a_bad_date_format_is_one_clear_error(
    ws: Workspace, tmp_path: Path, date_format: str, message: str
) -> None:
    path = write(tmp_path, "o.csv", "order_id,customer_id,ordered_at,amount\nO1,C1,x,1\n")
    with pytest.raises(IngestError) as error:
        run(ws, "orders", path, ImportOptions(date_format=date_format))
    assert str(error.value) == message
    assert sql(ws, "SELECT count(*) FROM orders") == [(0,)]


def test_a_good_date_format_still_parses(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "customer_id,signup_at\nC1,01.02.2024 10:30\n")
    run(ws, "customers", path, ImportOptions(date_format="%d.%m.%Y %H:%M", timezone="UTC"))
    assert sql(ws, "SELECT CAST(signup_at AS VARCHAR) FROM customers") == [("2024-02-01 10:30:00",)]


# --- 7, 8. JSON lines -----------------------------------------------------------------------------


def test_json_lines_quarantine_bad_lines_by_file_line_and_load_the_rest(
    ws: Workspace, tmp_path: Path
) -> None:
    text = (
        '{"customer_id":"J1","first_name":"Jan"}\n'  # 1
        "\n"  # 2 (blank)
        '{"customer_id":"J2","first_name":\n'  # 3 malformed
        "[1,2]\n"  # 4 not an object
        '"str"\n'  # 5 not an object
        "   \n"  # 6 (blank)
        '{"customer_id":"J3","first_name":"Šárka"}\r\n'  # 7
        "{oops}\n"  # 8 malformed
        '{"customer_id":"J4"}'  # 9 (no final newline)
    )
    path = write(tmp_path, "c.jsonl", text)
    summary = import_file(ws, "customers", path, ImportOptions())
    assert (summary.loaded, summary.rejected) == (3, 4)
    assert sql(ws, "SELECT customer_id, first_name FROM customers ORDER BY 1") == [
        ("J1", "Jan"),
        ("J3", "Šárka"),
        ("J4", None),
    ]
    assert quarantined(ws, "customers") == [
        (3, "bad_json;missing_required", json.dumps('{"customer_id":"J2","first_name":')),
        (4, "missing_required;wrong_column_count", "[1,2]"),
        (5, "missing_required;wrong_column_count", '"str"'),
        (8, "bad_json;missing_required", json.dumps("{oops}")),
    ]
    rejects = (tmp_path / "c.jsonl.rejected.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == '"row_number","reasons","raw_line","customer_id","first_name"'
    assert rejects[1] == '3,"bad_json;missing_required","{""customer_id"":""J2"",""first_name"":",,'


def test_json_lines_file_of_only_bad_lines(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", "nope\n[1]\n")
    with pytest.raises(IngestError, match="the file has no column for customer_id"):
        import_file(ws, "customers", path, ImportOptions())
    mapped = ImportOptions(mapping={"customer_id": "id"})
    with pytest.raises(IngestError, match="the file has no column 'id'"):
        import_file(ws, "customers", path, mapped)
    path = write(tmp_path, "c.jsonl", 'nope\n[1]\n{"customer_id": "J1"}\n')
    summary = import_file(ws, "customers", path, ImportOptions())
    assert (summary.loaded, summary.rejected) == (1, 2)
    assert quarantined(ws, "customers") == [
        (1, "bad_json;missing_required", '"nope"'),
        (2, "missing_required;wrong_column_count", "[1]"),
    ]


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("plain", '$."plain"'),
        ('a"b', '$."a\\"b"'),
        ("x.y", '$."x.y"'),
        ("p\\q", '$."p\\\\q"'),
        ("it's", '$."it\'s"'),
    ],
)
def test_json_path_quotes_keys(key: str, path: str) -> None:
    assert json_path(key) == path


@pytest.mark.parametrize("key", ['a"b', "x.y", "p\\q", "it's", "naïve key"])
def test_json_lines_keys_with_quotes_are_read(ws: Workspace, tmp_path: Path, key: str) -> None:
    line = json.dumps({"customer_id": "I9", key: "v", "first_name": "Ida"})
    path = write(tmp_path, "k.jsonl", line + "\n")
    summary = import_file(ws, "customers", path, ImportOptions(mapping={"last_name": key}))
    assert (summary.loaded, summary.rejected) == (1, 0)
    assert sql(ws, "SELECT customer_id, first_name, last_name FROM customers") == [
        ("I9", "Ida", "v")
    ]


def test_json_lines_in_another_encoding_name_it(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes('{"customer_id":"R1","first_name":"Иван"}\n'.encode("cp1251"))
    with pytest.raises(IngestError) as error:
        import_file(ws, "customers", path, ImportOptions())
    assert str(error.value) == (
        f"{path} is not valid UTF-8; it looks like cp1251: re-run with --encoding cp1251"
    )
    summary = import_file(ws, "customers", path, ImportOptions(encoding="cp1251"))
    assert summary.loaded == 1
    assert sql(ws, "SELECT first_name FROM customers") == [("Иван",)]


# --- 9. header names that differ only in case -----------------------------------------------------


@pytest.mark.parametrize(
    ("header", "row", "mapping", "stored", "error"),
    [
        ("customer_id,email,Email", "A1,a@x.cz,b@x.cz", {}, "a@x.cz", None),
        ("customer_id,Email,email", "A1,b@x.cz,a@x.cz", {}, "a@x.cz", None),
        ("customer_id,EMAIL", "A1,A@X.CZ", {}, "a@x.cz", None),
        (
            "customer_id,EMAIL,Email",
            "A1,a@x.cz,b@x.cz",
            {},
            None,
            "the file has columns 'EMAIL', 'Email', which differ only in case; rename one or "
            "choose with --map email=SOURCE_COLUMN",
        ),
        ("customer_id,EMAIL,Email", "A1,a@x.cz,b@x.cz", {"email": "Email"}, "b@x.cz", None),
        (
            "customer_id,Mail,MAIL",
            "A1,a@x.cz,b@x.cz",
            {"email": "mail"},
            None,
            "the file has columns 'Mail', 'MAIL', which differ only in case; give the exact "
            "name in --map email=SOURCE_COLUMN",
        ),
    ],
)
def test_columns_differing_only_in_case(
    ws: Workspace,
    tmp_path: Path,
    header: str,
    row: str,
    mapping: dict[str, str],
    stored: str | None,
    error: str | None,
) -> None:
    path = write(tmp_path, "c.csv", f"{header}\n{row}\n")
    options = ImportOptions(mapping=mapping)
    if error is not None:
        with pytest.raises(IngestError) as raised:
            run(ws, "customers", path, options)
        assert str(raised.value) == error
        return
    run(ws, "customers", path, options)
    assert sql(ws, "SELECT email FROM customers") == [(stored,)]


@pytest.mark.parametrize(
    ("price", "stored"),
    [("12.555", "12.56"), ("12.554", "12.55"), ("0.005", "0.01"), ("12.5", "12.50")],
)
def test_money_with_more_decimals_is_rounded_as_documented(
    ws: Workspace, tmp_path: Path, price: str, stored: str
) -> None:
    with_order_o1(ws, tmp_path)
    path = write(tmp_path, "i.csv", f"order_id,product_id,quantity,unit_price\nO1,P1,1,{price}\n")
    run(ws, "order_items", path)
    assert sql(ws, "SELECT CAST(unit_price AS VARCHAR) FROM order_items") == [(stored,)]


# --- a rejects file imported again ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "names"),
    [
        (["order_id"], {"order_id": "order_id"}),
        (
            ["row_number", "reasons", "order_id"],
            {
                "row_number": "source_row_number",
                "reasons": "source_reasons",
                "order_id": "order_id",
            },
        ),
        (
            ["reasons", "source_reasons"],
            {"reasons": "source_source_reasons", "source_reasons": "source_reasons"},
        ),
        (["raw", "raw_line"], {"raw": "source_raw", "raw_line": "source_raw_line"}),
    ],
)
def test_source_columns_named_like_reject_columns_are_renamed(
    columns: list[str], names: dict[str, str]
) -> None:
    assert importer.reject_cell_names(columns) == names
