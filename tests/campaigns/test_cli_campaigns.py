"""The campaigns CLI end to end on a DuckDB file: create, dry-run, send, worker, status."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from segmentum.cli.app import app
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    load_subscriptions,
    outbox_settings,
    sms_campaign,
    tag_segments,
)


def test_campaign_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "shop.duckdb")
    ws = Workspace.open(db)
    outbox_settings(ws, str(tmp_path / "outbox"))
    load_customers(ws, [customer(1, ["vip"]), customer(2, ["lapsed"]), customer(3, ["vip"])])
    load_subscriptions(ws, [("C0001", "sms", "opted_in"), ("C0002", "sms", "opted_in")])
    tag_segments(ws, "vip", "lapsed", "complained")
    ws.close()
    definition = tmp_path / "spring.yaml"
    definition.write_text(yaml.safe_dump(sms_campaign()), encoding="utf-8")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--db", db, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    run("campaigns", "create", "--file", str(definition))
    summary = json.loads(run("campaigns", "dry-run", "spring", "--format", "json"))
    assert [(r["segment"], r["queued"], r["no_consent"]) for r in summary] == [
        ("vip", 1, 1),
        ("lapsed", 1, 0),
    ]
    listing = json.loads(run("campaigns", "list", "--format", "json"))
    assert [(r["campaign"], r["state"]) for r in listing] == [("spring", "draft")]
    run("campaigns", "send", "spring")
    run("worker", "--until-idle", "--poll", "0.01")
    status = json.loads(run("campaigns", "status", "spring", "--format", "json"))
    assert status["state"] == "completed"
    assert sorted((r["status"], r["reason"], r["messages"]) for r in status["ledger"]) == [
        ("sent", "", 2),
        ("skipped", "no_consent", 1),
    ]
    lines = (tmp_path / "outbox" / "sms.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["body"] for line in lines) == ["Come back Name2", "VIP Name1"]
    exported = json.loads(run("customers", "export", "C0001"))
    assert exported["app_store"]["send_ledger"][0]["status"] == "sent"
    run("customers", "forget", "C0001", "--yes")
    ws = Workspace.open(db)
    try:
        assert ws.store.scalar("SELECT count(*) FROM send_ledger WHERE customer_id = 'C0001'") == 0
        assert ws.store.scalar("SELECT count(*) FROM suppressions WHERE reason = 'erased'") == 2
    finally:
        ws.close()
