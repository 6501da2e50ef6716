"""`report segments`: sizes from the membership log, transitions, cohorts, the HTML page;
and the demo's simulated responses."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

from segmentum.cli.app import app as cli
from segmentum.service import metrics, reports
from segmentum.service.membership import refresh_segments
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import tag_segments
from tests.measurement.scenario import Order, build, load_orders


def _customers(ws: Workspace, rows: list[tuple[str, datetime, list[str]]]) -> None:
    data = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "signup_at": pa.array([r[1] for r in rows], pa.timestamp("us")),
            "signup_date": pa.array([r[1].date() for r in rows], pa.date32()),
            "tags": pa.array([r[2] for r in rows], pa.list_(pa.string())),
        }
    )
    con = ws.engine.backend.con  # type: ignore[attr-defined]
    con.register("incoming", data)
    con.execute("INSERT INTO customers BY NAME SELECT * FROM incoming")
    con.unregister("incoming")


def _shop(ws: Workspace) -> None:
    _customers(
        ws,
        [
            ("A", datetime(2025, 1, 5), ["vip"]),
            ("B", datetime(2025, 1, 20), ["vip"]),
            ("C", datetime(2025, 2, 3), []),
            ("D", datetime(2025, 5, 10), []),
        ],
    )
    load_orders(
        ws,
        [
            Order("o1", "A", datetime(2025, 1, 10), Decimal(10)),
            Order("o2", "A", datetime(2025, 6, 1), Decimal(20)),
            Order("o3", "B", datetime(2025, 2, 1), Decimal(30)),
            Order("o4", "C", datetime(2025, 2, 3), Decimal(40)),
            Order("o5", "C", datetime(2025, 4, 15), Decimal(50)),
            Order("o6", "C", datetime(2025, 4, 20), Decimal(5), "cancelled"),
        ],
    )
    tag_segments(ws, "vip")
    refresh_segments(ws, date(2025, 3, 5))
    con = ws.engine.backend.con  # type: ignore[attr-defined]
    con.execute("UPDATE customers SET tags = ['vip'] WHERE customer_id IN ('C', 'D')")
    refresh_segments(ws, date(2025, 3, 10))


def test_sizes_over_time_from_the_membership_log(workspace: Workspace) -> None:
    _shop(workspace)
    report = reports.report_segments(workspace, date(2025, 3, 3), date(2025, 3, 11))
    assert [(r["date"], r["size"]) for r in report.sizes if r["segment"] == "vip"] == [
        (date(2025, 3, 5), 2), (date(2025, 3, 6), 2), (date(2025, 3, 7), 2),
        (date(2025, 3, 8), 2), (date(2025, 3, 9), 2), (date(2025, 3, 10), 3),
        (date(2025, 3, 11), 3),  # D signs up in May: not yet a member
    ]  # fmt: skip


def _stages(ws: Workspace, day: date, column: str) -> dict[str, str]:
    if column == "stage":
        table, _ = metrics.lifecycle_table(ws, day)
    else:
        table, _ = metrics.rfm_table(ws, day, None)
    return {r["customer_id"]: r[column] for r in table.to_pyarrow().to_pylist()}


def test_transitions_join_the_two_dates(workspace: Workspace) -> None:
    _shop(workspace)
    report = reports.report_segments(workspace, date(2025, 3, 1), date(2025, 6, 30))
    for column, rows in (("stage", report.lifecycle_transitions),
                         ("rfm_group", report.rfm_transitions)):  # fmt: skip
        before = _stages(workspace, date(2025, 3, 1), column)
        after = _stages(workspace, date(2025, 6, 30), column)
        expected: dict[tuple[str, str], int] = {}
        for cid in sorted(set(before) | set(after)):
            key = (before.get(cid, "(none)"), after.get(cid, "(none)"))
            expected[key] = expected.get(key, 0) + 1
        assert {(r["from"], r["to"]): r["customers"] for r in rows} == expected
    assert sum(r["customers"] for r in report.lifecycle_transitions) == 4
    assert ("(none)", "zero") in {(r["from"], r["to"]) for r in report.lifecycle_transitions}


def test_cohort_retention_by_signup_month(workspace: Workspace) -> None:
    _shop(workspace)
    report = reports.report_segments(workspace, date(2025, 3, 1), date(2025, 6, 30))
    assert [(r["cohort"], r["month"], r["cohort_size"], r["active"], r["retention"])
            for r in report.cohorts] == [
        ("2025-01", 0, 2, 1, 0.5), ("2025-01", 1, 2, 1, 0.5), ("2025-01", 5, 2, 1, 0.5),
        ("2025-02", 0, 1, 1, 1.0), ("2025-02", 2, 1, 1, 1.0),
    ]  # fmt: skip


def test_rfm_grid_has_counts_and_revenue(workspace: Workspace) -> None:
    _shop(workspace)
    report = reports.report_segments(workspace, date(2025, 3, 1), date(2025, 6, 30))
    assert sum(r["customers"] for r in report.rfm_grid) == 3
    assert sum(Decimal(r["revenue"]) for r in report.rfm_grid) == Decimal(150)


def test_segments_cli_writes_a_self_contained_page(workspace: Workspace, tmp_path: Path) -> None:
    _shop(workspace)
    db = workspace.engine.url
    workspace.close()
    page = tmp_path / "segments.html"
    result = CliRunner().invoke(cli, ["--db", db, "report", "segments", "--from", "2025-03-01",
                                      "--to", "2025-06-30", "--format", "csv",
                                      "--html", str(page)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "segment,date,size"
    html = page.read_text(encoding="utf-8")
    assert "<script src=" not in html
    for title in ("Lifecycle stages", "RFM grid", "Segment sizes over time",
                  "Lifecycle stage: where customers moved", "Cohort retention"):  # fmt: skip
        assert title in html


def test_simulated_responses_are_deterministic(tmp_path: Path) -> None:
    outcomes = []
    for run in ("one", "two"):
        folder = tmp_path / run
        folder.mkdir()
        ws = Workspace.open(str(folder / "shop.duckdb"))
        try:
            build(ws, str(folder))
            summary = reports.simulate_responses(ws, "spring", seed=7)
            again = reports.simulate_responses(ws, "spring", seed=7)
            assert again == {**summary, "delivered": 0}
            outcomes.append((summary, reports.report_campaign(ws, "spring").rows))
        finally:
            ws.close()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0]["orders"] > 0
