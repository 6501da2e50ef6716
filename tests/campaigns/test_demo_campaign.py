"""The demo runs a segmented SMS campaign to the file outbox; its counts are deterministic for a
given seed and end day."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from segmentum.service.demo import load_demo, run_demo_campaign, shop_config
from segmentum.service.workspace import Workspace

#: segment → (eligible, held out, sent, deferred, no consent, no address, SMS parts, cost)
EXPECTED = {
    "abandoned_cart": (30, 2, 28, 0, 30, 14, 43, "38.70"),
    "recent_buyers": (80, 8, 72, 0, 106, 29, 123, "110.70"),
    "lifecycle_churn": (52, 5, 47, 0, 66, 16, 78, "70.20"),
}


@pytest.mark.slow
def test_the_demo_campaign_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default channels write ./outbox/<channel>.jsonl
    ws = Workspace.open(str(tmp_path / "shop.duckdb"))
    try:
        config = shop_config(customers=3000, end=date(2026, 5, 4), seed=42)
        load_demo(ws, config)
        result = run_demo_campaign(ws, config)
        sent = ws.store.scalar(
            "SELECT count(*) FROM send_ledger WHERE campaign_id = ? "
            "AND status IN ('sent', 'delivered')",
            (result.campaign_id,),
        )
    finally:
        ws.close()
    got = {
        row["segment"]: (
            row["eligible"], row["held_out"], row["sent"], row["deferred"], row["no_consent"],
            row["no_address"], row["sms_segments"], f"{row['cost']:.2f}",
        )
        for row in result.rows
    }  # fmt: skip
    assert got == EXPECTED
    assert [row["segment"] for row in result.rows] == list(EXPECTED)  # priority order
    assert result.sent_at.isoformat() == "2026-05-04T08:00:00+00:00"  # 10:00 in Prague
    # Simulated responses: one report row per segment and one for the whole campaign; the
    # treated arm is the eligible audience less the holdout (intent to treat).
    assert [row["segment"] for row in result.results] == [*EXPECTED, "*"]
    for row in result.results[:-1]:
        eligible, held_out = EXPECTED[row["segment"]][:2]
        assert (row["treated"], row["holdout_n"]) == (eligible - held_out, held_out)
    lines = (tmp_path / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == sent == sum(row["sent"] for row in result.rows)
    messages = [json.loads(line) for line in lines]
    assert len({m["idempotency_key"] for m in messages}) == len(messages)
    bodies = " ".join(m["body"] for m in messages)
    for text in ("košík", "koszyk", "корзина", "your cart", "Děkujeme", "Chybíte"):
        assert text in bodies
