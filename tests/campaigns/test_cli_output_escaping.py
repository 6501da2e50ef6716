"""Table output never reads user text as Rich markup; preview shows why a recipient is skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from segmentum.cli import campaign_commands
from segmentum.cli.app import app
from segmentum.cli.output import OutputFormat, emit, emit_document
from segmentum.service import campaigns as campaigns_service
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    outbox_settings,
    tag_segments,
)

MARKUP_LIKE = [
    "Sleva [kód] 20 %",
    "[bold]not bold[/bold]",
    "[red]x",
    "[/]",
    "[link=https://evil.example]click[/link]",
    "a :smile: b",
    "\\[escaped]",
    "[b]",
]


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")


@pytest.mark.parametrize("text", MARKUP_LIKE)
def test_table_cells_and_headers_print_verbatim(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emit([{"body": text, "n": 1}], ("body", "n"), OutputFormat.table)
    out = capsys.readouterr().out
    assert text in out


@pytest.mark.parametrize("text", MARKUP_LIKE)
def test_column_names_and_documents_print_verbatim(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emit([{text: "v"}], (text,), OutputFormat.table)
    emit_document({"field": text}, OutputFormat.table)
    out = capsys.readouterr().out
    assert out.count(text) == 2


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (OutputFormat.json, '[{"body": "Sleva [kód] 20 %"}]\n'),
        (OutputFormat.csv, "body\nSleva [kód] 20 %\n"),
    ],
)
def test_json_and_csv_unchanged(
    output: OutputFormat, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emit([{"body": "Sleva [kód] 20 %"}], ("body",), output)
    assert capsys.readouterr().out == expected


@pytest.fixture
def shop(tmp_path: Path) -> str:
    db = str(tmp_path / "shop.duckdb")
    ws = Workspace.open(db)
    outbox_settings(ws, str(tmp_path / "outbox"))
    load_customers(ws, [customer(1, ["vip"]), customer(2, ["vip"], phone=None)])
    tag_segments(ws, "vip")
    ws.close()
    definition = tmp_path / "kod.yaml"
    definition.write_text(
        yaml.safe_dump(
            {
                "name": "kod",
                "channel": "sms",
                "segments": [
                    {"segment": "vip", "template": {"body": "Sleva [kód] [b]{{ first_name }}"}}
                ],
            }
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["--db", db, "campaigns", "create", "--file",
                                      str(definition)])  # fmt: skip
    assert result.exit_code == 0, result.output
    return db


def test_preview_table_shows_bodies_verbatim(shop: str) -> None:
    result = CliRunner().invoke(app, ["--db", shop, "campaigns", "preview", "kod", "--sample",
                                      "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Sleva [kód] [b]Name1" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "customer_id" in line)
    assert [cell.strip() for cell in header.strip("┃ ").split("┃")] == list(
        campaign_commands.PREVIEW_COLUMNS
    )


def test_preview_table_shows_the_reason_column_from_the_service(
    shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"segment": "vip", "variant": "A", "customer_id": "C0002", "language": "en",
             "subject": None, "body": "", "error": None, "reason": "no_address",
             "sms_segments": 0}]  # fmt: skip
    monkeypatch.setattr(campaigns_service, "preview", lambda ws, name, sample: rows)
    result = CliRunner().invoke(app, ["--db", shop, "campaigns", "preview", "kod", "-f", "json"])
    assert json.loads(result.stdout) == rows


def test_preview_gives_the_skip_reason(shop: str) -> None:
    result = CliRunner().invoke(app, ["--db", shop, "campaigns", "preview", "kod", "-f", "json"])
    reasons = {row["customer_id"]: row["reason"] for row in json.loads(result.stdout)}
    assert reasons == {"C0001": None, "C0002": "no_address"}
