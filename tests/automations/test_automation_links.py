"""Automation messages get tracked links exactly as campaign messages do (the same
`campaigns.links` rewriting through `plan(..., links=...)`, the same `service.tracking`
storage), and clicks on them are counted for the automation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from segmentum.campaigns.links import link_code
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import automations, tracking
from segmentum.service.membership import refresh_segments
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.workspace import Workspace
from tests.automations.shop import add_customer, outbox, send_on_entering_vip
from tests.campaigns.campaign_fixtures import outbox_settings

# A day ahead of the real clock, as in test_actions: the refresh at W must come after the
# segments were saved to be their initial population.
W = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
BASE = "https://sh.op"
UTM = "utm_source=segmentum&utm_medium={channel}&utm_campaign=automation:welcome"


@pytest.fixture
def shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    outbox_settings(workspace, str(tmp_path / "outbox"))
    data = workspace.settings.model_dump(mode="json")
    data["tracking"] = {"enabled": True, "base_url": BASE}
    workspace.update_settings(WorkspaceSettings.model_validate(data))
    for name in ("ann", "bob"):
        add_customer(workspace, name, W - timedelta(days=30))
    create_segment(workspace, "vip", DefinitionSource(data={"where": {"has_tag": "vip"}}))
    refresh_segments(workspace, at=W)
    return workspace


def _send_to_ann(ws: Workspace, channel: str, template: dict[str, Any]) -> None:
    send_on_entering_vip(ws, "welcome", channel, template, ["ann"], W, W + timedelta(minutes=1))


def _links(ws: Workspace) -> list[dict[str, Any]]:
    return ws.store.query(
        "SELECT code, message_key, campaign_id, occurrence, customer_id, channel, segment, "
        "variant, original, destination FROM tracked_links ORDER BY original"
    )


CASES = [
    pytest.param(
        "sms",
        {"body": "Welcome {{ first_name }}: https://shop.example/welcome"},
        ["https://shop.example/welcome"],
        {"body": "Welcome Ann: https://sh.op/r/{0}"},
        id="sms-one-link",
    ),
    pytest.param(
        "sms",
        {"body": "See https://shop.example/a?x=1, or https://shop.example/b."},
        ["https://shop.example/a?x=1", "https://shop.example/b"],
        {"body": "See https://sh.op/r/{0}, or https://sh.op/r/{1}."},
        id="sms-two-links-punctuation-kept",
    ),
    pytest.param(
        "email",
        {
            "subject": "Welcome",
            "body": "Shop: https://shop.example/welcome",
            "html": '<a href="https://shop.example/welcome">Shop</a>',
        },
        ["https://shop.example/welcome"],
        {"body": "Shop: https://sh.op/r/{0}", "html": '<a href="https://sh.op/r/{0}">Shop</a>'},
        id="email-same-link-in-text-and-html-one-code",
    ),
    pytest.param(
        "sms",
        {"body": "Welcome, no link here"},
        [],
        {"body": "Welcome, no link here"},
        id="sms-no-link",
    ),
    pytest.param(
        "email",
        {"subject": "Bye", "body": "Leave: https://shop.example/unsubscribe?t=1"},
        [],
        {"body": "Leave: https://shop.example/unsubscribe?t=1"},
        id="email-unsubscribe-link-untouched",
    ),
]


@pytest.mark.parametrize(("channel", "template", "originals", "sent"), CASES)
def test_automation_links_are_tracked_like_a_campaigns(
    shop: Workspace,
    tmp_path: Path,
    channel: str,
    template: dict[str, Any],
    originals: list[str],
    sent: dict[str, str],
) -> None:
    _send_to_ann(shop, channel, template)
    ledger = shop.store.query(
        "SELECT message_key, status FROM send_ledger WHERE campaign_id = 'automation:welcome'"
    )
    assert [row["status"] for row in ledger] == ["sent"]
    key = ledger[0]["message_key"]
    utm = UTM.format(channel=channel) + "&utm_content=vip/default"
    expected = []
    for original in originals:
        destination = f"{original}{'&' if '?' in original else '?'}{utm}"
        expected.append(
            {
                "code": link_code(key, destination),
                "message_key": key,
                "campaign_id": "automation:welcome",
                "occurrence": 1,
                "customer_id": "ann",
                "channel": channel,
                "segment": "vip",
                "variant": "default",
                "original": original,
                "destination": destination,
            }
        )
    assert _links(shop) == expected
    codes = [link["code"] for link in expected]
    (message,) = outbox(tmp_path / "outbox", channel)
    assert {part: message[part] for part in sent} == {
        part: text.format(*codes) for part, text in sent.items()
    }


def test_clicks_on_automation_links_are_counted(shop: Workspace) -> None:
    _send_to_ann(shop, "sms", {"body": "Hi https://shop.example/welcome"})
    (link,) = _links(shop)
    assert automations.show_automation(shop, "welcome")["clicks"] == {"clicks": 0, "customers": 0}
    # clicked now, by the real clock: the events import refuses times a day ahead (W's)
    destination = tracking.record_click(shop, link["code"])
    tracking.record_click(shop, link["code"])
    assert destination == (
        "https://shop.example/welcome?" + UTM.format(channel="sms") + "&utm_content=vip/default"
    )
    assert automations.show_automation(shop, "welcome")["clicks"] == {"clicks": 2, "customers": 1}
    events = shop.engine.table("events").to_pyarrow().to_pylist()
    assert [(e["customer_id"], e["type"], e["campaign_id"], e["channel"]) for e in events] == [
        ("ann", "message_clicked", "automation:welcome", "sms"),
        ("ann", "message_clicked", "automation:welcome", "sms"),
    ]


def test_no_tracking_leaves_automation_links_as_written(shop: Workspace, tmp_path: Path) -> None:
    data = shop.settings.model_dump(mode="json")
    data["tracking"] = {"enabled": False, "base_url": BASE}
    shop.update_settings(WorkspaceSettings.model_validate(data))
    _send_to_ann(shop, "sms", {"body": "Hi https://shop.example/welcome"})
    assert _links(shop) == []
    assert [m["body"] for m in outbox(tmp_path / "outbox", "sms")] == [
        "Hi https://shop.example/welcome"
    ]
