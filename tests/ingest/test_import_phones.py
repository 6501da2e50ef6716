"""Phone numbers with an extension are rejected (`phone_extension`), never stored shortened.

An SMS cannot reach an extension: the number without it is a switchboard or somebody else's
line. The row goes to the quarantine and the rejects file with its phone cell as written, and
no log line or message ever shows a number.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from segmentum.service.imports import ImportOptions, import_file
from segmentum.service.intake import Submission, process
from segmentum.service.workspace import Workspace
from tests.ingest.conftest import rows
from tests.ingest.test_import_cli import _run

CZ = ImportOptions(default_region="CZ")

# (phone cell as written, stored E.164 or None when rejected, reasons)
PHONES: list[tuple[str, str | None, str]] = [
    ("+420 601 123 456", "+420601123456", ""),
    ("601 123 456", "+420601123456", ""),
    ("+420 601 123 456 ext. 12", None, "phone_extension"),
    ("+420 601 123 456 ext 12", None, "phone_extension"),
    ("+1 212 555 0100 x7", None, "phone_extension"),
    ("+1 212 555 0100 #7", None, "phone_extension"),
    ("+1 212 555 0100;ext=7", None, "phone_extension"),
    ("+1 212 555 0100 extension 5", None, "phone_extension"),
    ("601 123 456 x 3", None, "phone_extension"),
    ("+420 601 123 456,,12", None, "phone_extension"),
    ("+1 212 555 0100 x", "+12125550100", ""),  # an "x" with no digits names no extension
    ("+420 1 ext. 5", None, "bad_phone"),  # the number itself is not valid
    ("+420 12 ext. 5", None, "bad_phone;phone_extension"),  # both, as every reason is listed
    ("abc", None, "bad_phone"),
]


@pytest.mark.parametrize(("written", "stored", "reasons"), PHONES)
def test_phone_with_an_extension_is_rejected_with_its_own_reason(
    workspace: Workspace, write: Any, written: str, stored: str | None, reasons: str
) -> None:
    path = write("c.csv", f'customer_id,email,phone\nK1,k@x.cz,"{written}"\n')
    summary = import_file(workspace, "customers", path, CZ)
    assert (summary.loaded, summary.rejected) == ((1, 0) if stored else (0, 1))
    assert summary.rejected_by_reason == (dict.fromkeys(reasons.split(";"), 1) if reasons else {})
    assert rows(workspace, "SELECT customer_id, phone FROM customers") == (
        [("K1", stored)] if stored else []
    )
    quarantined = rows(workspace, "SELECT row_number, reasons, raw FROM quarantine")
    expected_raw = json.dumps(
        {"customer_id": "K1", "email": "k@x.cz", "phone": written}, separators=(",", ":")
    )
    assert quarantined == ([(1, reasons, expected_raw)] if reasons else [])


def test_a_file_mixing_extensions_with_good_numbers(workspace: Workspace, write: Any) -> None:
    path = write(
        "c.csv",
        "customer_id,phone\n"
        "P1,+420 601 123 456\n"
        "P2,+420 601 123 456 ext. 12\n"  # the same line with an extension: still rejected
        "P3,+1 212 555 0100 x7\n"
        "P4,\n",
    )
    summary = import_file(workspace, "customers", path, CZ)
    assert (summary.loaded, summary.rejected, summary.rejected_by_reason) == (
        2,
        2,
        {"phone_extension": 2},
    )
    assert rows(workspace, "SELECT customer_id, phone FROM customers ORDER BY 1") == [
        ("P1", "+420601123456"),
        ("P4", None),
    ]
    rejects = (path.parent / "c.csv.rejected.csv").read_text(encoding="utf-8").splitlines()
    assert rejects == [
        '"row_number","reasons","customer_id","phone"',
        '2,"phone_extension","P2","+420 601 123 456 ext. 12"',
        '3,"phone_extension","P3","+1 212 555 0100 x7"',
    ]


RECEIVED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def test_intake_rejects_an_identify_whose_phone_has_an_extension(tmp_path: Path) -> None:
    ws = Workspace.open(str(tmp_path / "intake.duckdb"))
    try:
        messages = [
            {"type": "identify", "userId": "I1", "messageId": "m1",
             "traits": {"phone": "+420 601 123 456 ext. 12"}},
            {"type": "identify", "userId": "I2", "messageId": "m2",
             "traits": {"phone": "+420 601 123 456"}},
        ]  # fmt: skip
        reports, _ = process(ws, [Submission(messages, RECEIVED, None)])
        assert [(ack.accepted, ack.reasons) for ack in reports[0].acks] == [
            (False, ("phone_extension",)),
            (True, ()),
        ]
        assert rows(ws, "SELECT customer_id, phone FROM customers") == [("I2", "+420601123456")]
        assert rows(ws, "SELECT reasons FROM quarantine") == [("phone_extension",)]
    finally:
        ws.close()


# --- phone numbers never reach a log or the terminal ---------------------------------------------

DIGITS = ("601 123 456", "601123456", "212 555 0100", "2125550100")


def test_no_log_record_holds_a_phone_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = Workspace.open(str(tmp_path / "logs.duckdb"))
    try:
        path = tmp_path / "c.csv"
        path.write_text(
            "customer_id,phone\nL1,+420 601 123 456 ext. 12\nL2,+1 212 555 0100 x7\nL3,abc\n",
            encoding="utf-8",
        )
        assert import_file(ws, "customers", path, CZ).rejected == 3
        message = {"type": "identify", "userId": "L4", "messageId": "m1",
                   "traits": {"phone": "+420 601 123 456 ext. 12"}}  # fmt: skip
        process(ws, [Submission([message], RECEIVED, None)])
    finally:
        ws.close()
    logged = caplog.text + " ".join(str(record.args) for record in caplog.records)
    assert [digits for digits in DIGITS if digits in logged] == []


def test_the_cli_prints_counts_not_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "customer_id,phone\nL1,+420 601 123 456 ext. 12\nL2,+1 212 555 0100 x7\n",
        encoding="utf-8",
    )
    code, out, err = _run(tmp_path / "w.duckdb", "customers", str(path), "--default-region", "CZ")
    assert (code, out) == (0, "")
    assert [digits for digits in DIGITS if digits in err] == []
    assert "phone_extension: 2" in err
