"""Saving responders as a segment, message events from the ledger, HTML pages, the CLI."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from typer.testing import CliRunner

from segmentum.cli.app import app as cli
from segmentum.service import reports, segments
from segmentum.service.tracking import sync_message_events
from segmentum.service.workspace import Workspace
from tests.measurement.scenario import T0, Scenario, build


def _expected_responders(ws: Workspace, scenario: Scenario) -> list[str]:
    delivered = {p["customer_id"] for p in scenario.people if p["status"] == "delivered"}
    converted = {
        o.customer_id
        for o in scenario.orders
        if o.customer_id in delivered
        and o.status != "cancelled"
        and T0 <= o.at <= T0 + timedelta(days=7)
    }
    return sorted(set(scenario.clicks) | converted)


def test_responders_segment_in_one_command(workspace: Workspace, tmp_path: Path) -> None:
    scenario = build(workspace, str(tmp_path))
    stored = reports.save_responders(workspace, "spring", "spring_responders")
    assert stored.description == "Responded to campaign spring (clicked, replied or converted)"
    shown = segments.show_segment(workspace, "spring_responders")
    assert shown["text"] == (
        "message(clicked, campaign = spring) or message(replied, campaign = spring) or "
        "message(converted, campaign = spring, conversion_days = 7)"
    )
    members = segments.members(workspace, "spring_responders", date(2026, 3, 20))
    ids = members.to_pyarrow().column("customer_id").to_pylist()
    assert ids == _expected_responders(workspace, scenario)


def test_ledger_outcomes_become_events_once(workspace: Workspace, tmp_path: Path) -> None:
    scenario = build(workspace, str(tmp_path))
    first = sync_message_events(workspace, "spring")
    again = sync_message_events(workspace, "spring")
    sent = sum(1 for p in scenario.people if p["status"] in ("delivered", "failed"))
    delivered = sum(1 for p in scenario.people if p["status"] == "delivered")
    failed = sent - delivered
    assert first is not None
    assert again is not None
    assert (first.loaded, first.rejected) == (sent + delivered + failed, 0)
    assert (again.loaded, again.updated, again.unchanged) == (0, 0, sent + delivered + failed)
    events = workspace.engine.table("events")
    mine = events.filter(events.campaign_id == "spring")
    counts = mine.group_by("type").aggregate(n=mine.count()).to_pyarrow().to_pylist()
    by_type = {row["type"]: row["n"] for row in counts}
    assert by_type == {
        "message_sent": sent,
        "message_delivered": delivered,
        "message_failed": failed,
        "message_clicked": len(scenario.clicks),
        "message_unsubscribed": 1,
    }


def test_campaign_report_cli_and_html(workspace: Workspace, tmp_path: Path) -> None:
    build(workspace, str(tmp_path))
    db = workspace.engine.url
    expected = reports.report_campaign(workspace, "spring")
    workspace.close()
    page = tmp_path / "spring.html"
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db, "campaigns", "report", "spring", "--format", "json",
                                 "--html", str(page)])  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["campaign"] == "spring"
    assert [(r["segment"], r["arm"], r["converted"]) for r in document["rows"]] == [
        (r["segment"], r["arm"], r["converted"]) for r in expected.rows
    ]
    html = page.read_text(encoding="utf-8")
    assert "<script src=" not in html  # no CDN: the library is inlined
    assert html.count("<script") >= 2
    assert "Conversion uplift over the holdout" in html
    assert len(html) > 3_000_000  # plotly.js inlined
    csv = runner.invoke(cli, ["--db", db, "campaigns", "report", "spring", "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    header = csv.stdout.splitlines()[0].split(",")
    assert header[:3] == ["segment", "arm", "audience"]
    assert len(csv.stdout.splitlines()) == 1 + len(expected.rows)
    saved = runner.invoke(cli, ["--db", db, "campaigns", "save-responders", "spring", "fans"])
    assert saved.exit_code == 0, saved.output
