"""The seed automations, installed and run to the file outbox: membership changes from a full
refresh, from micro-batches and from timers drive them; the worker sends through the gate."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import automations, campaigns, realtime
from segmentum.service.library import install_library as install_segments
from segmentum.service.membership import refresh_segments
from segmentum.service.workspace import Workspace
from tests.automations.shop import add_customer, add_event, add_order, outbox
from tests.campaigns.campaign_fixtures import outbox_settings

#: Wall-clock based (the membership log's recorded_at of a full refresh is the real clock).
# More than a day ahead of the real clock: segments are saved at the real time, and the
# refresh at W must come after that save to count as their initial population
# (skip_initial), however long the suite runs before this test does (the first version, 5
# minutes ahead, failed when a CI worker reached these tests more than 5 minutes after
# importing them). At 10:00 in the shop's zone (Europe/Prague), so that the hour after W
# never crosses a local midnight, where day-based segments move (with W a day after the
# real clock, the survey reminder's segment took "surv" in at t1 whenever the suite ran
# between 23:00 and 00:00 in Prague).
W = datetime.combine(
    datetime.now(ZoneInfo("Europe/Prague")).date() + timedelta(days=2),
    time(10, 0),
    tzinfo=ZoneInfo("Europe/Prague"),
).astimezone(UTC)


@pytest.fixture
def shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    data = workspace.settings.model_dump(mode="json")
    data["timezone"] = "Europe/Prague"
    workspace.update_settings(WorkspaceSettings.model_validate(data))
    outbox_settings(workspace, str(tmp_path / "outbox"))
    add_customer(workspace, "old", W - timedelta(days=400))
    add_order(workspace, "o-old", "old", W - timedelta(days=120))
    add_customer(workspace, "surv", W - timedelta(days=400))
    add_event(workspace, "e-survey", "surv", "survey_sent", W - timedelta(days=2), survey_id="s1")
    add_customer(workspace, "buyer", W - timedelta(days=400))
    add_customer(workspace, "cart", W - timedelta(days=400))
    report = install_segments(workspace)
    assert {r["name"] for r in report if r["status"] == "installed"} >= {
        "new_subscribers", "recent_buyers", "abandoned_cart", "survey_non_responders",
        "lifecycle_churn",
    }  # fmt: skip
    installed = automations.install_library(workspace, now=W - timedelta(minutes=1))
    assert {r["status"] for r in installed} == {"installed"}
    refresh_segments(workspace, at=W)
    return workspace


def _work(ws: Workspace, at: datetime) -> None:
    campaigns.run_worker(ws, until_idle=True, clock=lambda: at, poll_seconds=0.01)


def _bodies(directory: Path, channel: str) -> list[tuple[str, str]]:
    return sorted((m["metadata"]["customer_id"], m["body"]) for m in outbox(directory, channel))


def test_seed_automations_reach_the_outbox(shop: Workspace, tmp_path: Path) -> None:
    box = tmp_path / "outbox"
    _work(shop, W)
    assert outbox(box, "sms") == []
    assert outbox(box, "email") == []

    t1 = W + timedelta(hours=1)
    add_customer(shop, "newbie", t1, first_name="Nora")
    realtime.touch(shop, ["newbie"], {"customers", "subscriptions"}, now=t1, effective_at=t1)
    add_order(shop, "o-buyer", "buyer", t1)
    realtime.touch(shop, ["buyer"], {"orders"}, now=t1, effective_at=t1)
    add_event(shop, "e-cart", "cart", "cart_updated", t1)
    realtime.touch(shop, ["cart"], {"events"}, now=t1, event_types={"cart_updated"},
                   effective_at=t1)  # fmt: skip
    _work(shop, t1)
    assert _bodies(box, "sms") == [("newbie", "Welcome, Nora! Thanks for joining us.")]
    assert outbox(box, "email") == []  # the follow-up waits 24 hours

    t2 = W + timedelta(hours=26)  # the cart is 25 h old, the survey 3 days, the order 121
    _work(shop, t2)
    sms = _bodies(box, "sms")
    assert ("cart", "Cart, your cart is waiting for you.") in sms
    emails = {m["metadata"]["customer_id"]: m["subject"] for m in outbox(box, "email")}
    assert emails == {
        "buyer": "How was your order?",
        "surv": "A minute for us?",
        "old": "We miss you",
    }

    t3 = t2 + timedelta(days=4, hours=1)
    _work(shop, t3)
    assert ("surv", "Last call: tell us what you think, Surv.") in _bodies(box, "sms")
    # every message went through the ledger once (source automation), none twice
    rows = shop.store.query(
        "SELECT campaign_id, customer_id, status FROM send_ledger WHERE source = 'automation' "
        "ORDER BY campaign_id, customer_id"
    )
    assert [(r["campaign_id"], r["customer_id"], r["status"]) for r in rows] == [
        ("automation:abandoned_cart_reminder", "cart", "sent"),
        ("automation:purchase_follow_up", "buyer", "sent"),
        ("automation:survey_reminder", "surv", "sent"),
        ("automation:survey_reminder_second", "surv", "sent"),
        ("automation:welcome_new_subscribers", "newbie", "sent"),
        ("automation:win_back", "old", "sent"),
    ]
    _work(shop, t3 + timedelta(minutes=5))
    assert len(outbox(box, "sms")) == 3
    assert len(outbox(box, "email")) == 3


def test_delay_skips_customers_who_left(shop: Workspace, tmp_path: Path) -> None:
    t1 = W + timedelta(hours=1)
    add_order(shop, "o-buyer", "buyer", t1)
    realtime.touch(shop, ["buyer"], {"orders"}, now=t1, effective_at=t1)
    _work(shop, t1)
    con = shop.engine.backend.con  # type: ignore[attr-defined]
    con.execute("UPDATE orders SET status = 'cancelled' WHERE order_id = 'o-buyer'")
    realtime.touch(shop, ["buyer"], {"orders"}, now=t1 + timedelta(hours=2))
    _work(shop, t1 + timedelta(hours=25))
    emailed = {m["metadata"]["customer_id"] for m in outbox(tmp_path / "outbox", "email")}
    assert "buyer" not in emailed
    outcomes = {r["automation"]: r["outcome"] for r in automations.runs(shop)}
    assert outcomes["purchase_follow_up"] == "no_longer_member"


def test_paused_automation_skips(shop: Workspace, tmp_path: Path) -> None:
    automations.pause(shop, "welcome_new_subscribers")
    t1 = W + timedelta(hours=1)
    add_customer(shop, "newbie", t1)
    realtime.touch(shop, ["newbie"], {"customers"}, now=t1, effective_at=t1)
    _work(shop, t1)
    assert outbox(tmp_path / "outbox", "sms") == []
    listed = {row["automation"]: row for row in automations.list_automations(shop)}
    assert listed["welcome_new_subscribers"]["state"] == "paused"
    assert listed["welcome_new_subscribers"]["skipped"] == 1
