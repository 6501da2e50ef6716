"""Text is stored in Unicode NFC, whatever form it arrived in (files and the intake).

Decomposed input ("Plzen" + U+030C COMBINING CARON) and composed input ("Plzeň") must be the
same value once stored: the same key, the same segment match, the same length.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from segmentum.ingest.normal_form import SCAN_BELOW, characters_that_may_change, nfc_sql
from segmentum.service.imports import ImportOptions, import_file
from segmentum.service.intake import Submission, process
from segmentum.service.segments import DefinitionSource, preview
from segmentum.service.workspace import Workspace
from tests.ingest.conftest import rows


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# (column, value as written in the file, value stored)
STORED = [
    ("customer_id", nfd("Ž-1"), "Ž-1"),
    ("first_name", nfd("Šárka"), "Šárka"),
    ("last_name", nfd("Dvořák"), "Dvořák"),
    ("city", nfd("Plzeň"), "Plzeň"),
    ("city", "Plzeň", "Plzeň"),  # already NFC: unchanged
    ("city", nfd("Йошкар-Ола"), "Йошкар-Ола"),  # Cyrillic short i decomposed
    ("city", "\u212bngstr\u00f6m", "\u00c5ngstr\u00f6m"),  # the Ångström sign is a singleton
    ("city", "\u1100\u1161\u11a8", "\uac01"),  # conjoining Hangul jamo compose
    ("city", "e\u0323\u0302", "\u1ec7"),  # marks in any order compose to one character
    ("city", "e\u0302\u0323", "\u1ec7"),
    ("region", nfd("  Plzeňský kraj "), "Plzeňský kraj"),  # trimmed too
    ("country", nfd("Česko"), "CZ"),  # the country lookup sees NFC
    ("tags", nfd("český;vip"), ["český", "vip"]),
]


@pytest.mark.parametrize(("column", "written", "stored"), STORED)
def test_text_is_stored_in_nfc(
    workspace: Workspace, write: Any, column: str, written: str, stored: Any
) -> None:
    header, cells = (
        ("customer_id", [written])
        if column == "customer_id"
        else (f"customer_id,{column}", ["K1", written])
    )
    path = write("c.csv", header + "\n" + ",".join(f'"{cell}"' for cell in cells) + "\n")
    summary = import_file(workspace, "customers", path, ImportOptions())
    assert (summary.loaded, summary.rejected) == (1, 0)
    value = rows(workspace, f"SELECT {column} FROM customers")[0][0]
    assert (list(value) if column == "tags" else value) == stored


@pytest.mark.parametrize(
    ("characters", "loaded", "rejected_by_reason"),
    [(200, 1, {}), (201, 0, {"value_too_long": 1})],
)
def test_length_limits_count_characters_not_combining_marks(
    workspace: Workspace,
    write: Any,
    characters: int,
    loaded: int,
    rejected_by_reason: dict[str, int],
) -> None:
    written = nfd("ř" * characters)  # two code points each as written
    assert len(written) == 2 * characters
    path = write("c.csv", f"customer_id,first_name\nK1,{written}\n")
    summary = import_file(workspace, "customers", path, ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (loaded, rejected_by_reason)
    assert rows(workspace, "SELECT first_name FROM customers") == (
        [("ř" * characters,)] if loaded else []
    )


def test_a_segment_typed_in_nfc_matches_rows_that_arrived_decomposed(
    workspace: Workspace, write: Any
) -> None:
    path = write(
        "c.csv",
        f"customer_id,city\nD1,{nfd('Plzeň')}\nC1,Plzeň\nX1,Plzen\nS1,{nfd('Šumperk')}\n",
    )
    assert import_file(workspace, "customers", path, ImportOptions()).loaded == 4
    found = preview(workspace, DefinitionSource(text='city = "Plzeň"'))
    assert (found.count, found.sample) == (2, ["C1", "D1"])
    found = preview(workspace, DefinitionSource(text='city in ("Šumperk", "Plzen")'))
    assert (found.count, found.sample) == (2, ["S1", "X1"])


def test_reimporting_the_decomposed_spelling_changes_nothing(
    workspace: Workspace, write: Any
) -> None:
    composed = write("a.csv", "customer_id,city\nŽ1,Plzeň\n")
    decomposed = write("b.csv", f"customer_id,city\n{nfd('Ž1')},{nfd('Plzeň')}\n")
    assert import_file(workspace, "customers", composed, ImportOptions()).loaded == 1
    summary = import_file(workspace, "customers", decomposed, ImportOptions())
    assert (summary.loaded, summary.updated, summary.unchanged) == (0, 0, 1)
    assert rows(workspace, "SELECT customer_id, city FROM customers") == [("Ž1", "Plzeň")]


def test_an_orders_file_with_decomposed_customer_ids_finds_the_customers(
    workspace: Workspace, write: Any
) -> None:
    import_file(workspace, "customers", write("c.csv", "customer_id\nŽ1\n"), ImportOptions())
    path = write("o.csv", f"order_id,customer_id,ordered_at,amount\nO1,{nfd('Ž1')},2024-01-01,10\n")
    summary = import_file(workspace, "orders", path, ImportOptions())
    assert (summary.loaded, summary.rejected) == (1, 0)
    assert rows(workspace, "SELECT order_id, customer_id FROM orders") == [("O1", "Ž1")]


# --- the quick check never changes the result -------------------------------------------------


def test_skipping_values_the_quick_check_passes_gives_the_same_text_as_nfc_normalize() -> None:
    """Every character below SCAN_BELOW alone, after a base letter, before a combining mark,
    after an accented letter and after a leading jamo: the quick-checked expression equals
    ``nfc_normalize`` (DuckDB's own Unicode version) on every value without NUL."""
    texts = []
    for code_point in range(1, SCAN_BELOW):
        if 0xD800 <= code_point <= 0xDFFF:
            continue
        char = chr(code_point)
        texts.extend([char, "e" + char, char + "\u0301", "a\u0301" + char, "\u1100" + char])
    con = duckdb.connect()
    con.register("texts", pa.table({"v": pa.array(texts, pa.string())}))
    differing = con.execute(
        f"SELECT count(*) FROM texts WHERE ({nfc_sql('v')}) IS DISTINCT FROM nfc_normalize(v)"
    ).fetchone()
    assert differing == (0,)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("a\u0301", "\u00e1"),
        ("a\u0301\x00b", "a\u0301\x00b"),  # nfc_normalize would cut it to "á"
        ("\x00\u0301", "\x00\u0301"),
        ("plain\x00", "plain\x00"),
        (None, None),
    ],
)
def test_a_value_holding_nul_is_kept_whole(text: str | None, stored: str | None) -> None:
    con = duckdb.connect()
    query = f"SELECT {nfc_sql('v')} FROM (SELECT CAST(? AS VARCHAR) AS v)"
    assert con.execute(query, [text]).fetchone() == (stored,)


def test_no_character_above_the_scanned_range_may_change() -> None:
    assert characters_that_may_change(0x110000) == characters_that_may_change()


# --- the intake -------------------------------------------------------------------------------

RECEIVED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def test_intake_stores_nfc_and_one_customer_for_both_spellings(tmp_path: Path) -> None:
    ws = Workspace.open(str(tmp_path / "intake.duckdb"))
    try:
        messages = [
            {
                "type": "identify",
                "userId": nfd("Ž1"),
                "messageId": "m1",
                "traits": {"firstName": nfd("Šárka"), "address": {"city": nfd("Plzeň")}},
            },
            {
                "type": "identify",
                "userId": "Ž1",
                "messageId": "m2",
                "traits": {"lastName": nfd("Dvořák")},
            },
            {
                "type": "track",
                "userId": nfd("Ž1"),
                "messageId": nfd("zpráva-3"),
                "event": "Support Ticket",
                "properties": {"topic": nfd("reklamace zboží")},
            },
        ]
        reports, _ = process(ws, [Submission(messages, RECEIVED, None)])
        assert [ack.accepted for ack in reports[0].acks] == [True, True, True]
        assert reports[0].acks[2].message_id == "zpráva-3"
        assert rows(ws, "SELECT customer_id, first_name, last_name, city FROM customers") == [
            ("Ž1", "Šárka", "Dvořák", "Plzeň")
        ]
        assert rows(ws, "SELECT event_id, customer_id, type, properties, topic FROM events") == [
            ("zpráva-3", "Ž1", "support_ticket", '{"topic":"reklamace zboží"}', "reklamace zboží")
        ]
    finally:
        ws.close()
