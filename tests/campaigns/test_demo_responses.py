"""The demo's simulated responses stop at the demo's as-of: no order, click or receipt after
it, so `message(converted, campaign = ...)` evaluated then and the campaign report's converted
count agree."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from segmentum.service import segments
from segmentum.service.demo import load_demo, run_demo_campaign, shop_config
from segmentum.service.reports import report_campaign
from segmentum.service.segments import DefinitionSource
from segmentum.service.workspace import Workspace
from segmentum.store.campaigns import naive

END = date(2026, 5, 4)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3,000-customer demo ending 4 May 2026 (its as-of: the end of that day in Prague),
    campaign sent at 10:00 that day, responses simulated."""
    directory = tmp_path_factory.mktemp("demo")
    ws = Workspace.open(str(directory / "shop.duckdb"))
    try:
        data = ws.settings.model_dump(mode="json")
        data["channels"] = {"sms": {"type": "outbox", "path": str(directory / "sms.jsonl")}}
        from segmentum.catalog.settings import WorkspaceSettings

        ws.update_settings(WorkspaceSettings.model_validate(data))
        config = shop_config(customers=3000, end=END, seed=42)
        load_demo(ws, config)
        run_demo_campaign(ws, config)
    finally:
        ws.close()
    return directory / "shop.duckdb"


def _as_of() -> datetime:
    return shop_config(customers=1, end=END).end


@pytest.mark.parametrize(
    ("table", "kind", "column", "count"),
    [
        pytest.param("orders", "simulated", "ordered_at", 39, id="simulated-orders"),
        pytest.param("events", "message_clicked", "occurred_at", 21, id="clicks"),
        pytest.param("events", "message_delivered", "occurred_at", 142, id="delivery-receipts"),
    ],
)
def test_no_simulated_response_is_after_the_demos_as_of(
    demo: Path, table: str, kind: str, column: str, count: int
) -> None:
    ws = Workspace.open(str(demo))
    try:
        rows = ws.engine.table(table)
        picked = (
            rows.filter(rows.store == kind)
            if table == "orders"
            else rows.filter((rows.type == kind) & (rows.campaign_id == "demo_comeback"))
        )
        found = picked.aggregate(n=picked.count(), last=picked[column].max()).to_pyarrow()
    finally:
        ws.close()
    (result,) = found.to_pylist()
    assert result["n"] == count
    assert result["last"] <= naive(_as_of())


def test_message_converted_agrees_with_the_report(demo: Path) -> None:
    ws = Workspace.open(str(demo))
    try:
        report = report_campaign(ws, "demo_comeback")
        where = DefinitionSource(text="message(converted, campaign = demo_comeback)")
        counted = segments.preview(ws, where, END, sample=0).count
    finally:
        ws.close()
    (campaign,) = [row for row in report.rows if (row["segment"], row["arm"]) == ("*", "*")]
    assert (counted, campaign["converted"]) == (CONVERTED, CONVERTED)


#: Treated customers with a goal purchase in the window on this demo (the report's count).
CONVERTED = 23
