"""create → dry-run → send → worker → outbox, with the ledger and the gate in between."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from segmentum.service import campaigns as service
from segmentum.service.consent import inbound_reply
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    load_subscriptions,
    outbox_settings,
    sms_campaign,
    tag_segments,
)

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    outbox_settings(workspace, str(tmp_path / "outbox"))
    load_customers(
        workspace,
        [
            customer(1, ["vip"]),
            customer(2, ["vip", "lapsed"]),  # first matching segment wins: vip
            customer(3, ["lapsed"]),
            customer(4, ["lapsed", "complained"]),  # excluded
            customer(5, ["vip"]),  # opted out
            customer(6, ["vip"], phone=None),  # no address
            customer(7, []),  # in no segment
            customer(8, ["lapsed"]),  # no subscription row at all
        ],
    )
    load_subscriptions(
        workspace,
        [(f"C{i:04d}", "sms", "opted_in") for i in (1, 2, 3, 4, 6, 7)]
        + [("C0005", "sms", "opted_out")],
    )
    tag_segments(workspace, "vip", "lapsed", "complained")
    return workspace


def _outbox(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "outbox" / "sms.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dry_run_counts_without_sending(shop: Workspace, tmp_path: Path) -> None:
    service.create_campaign(shop, service.parse_campaign(sms_campaign()))
    summary = service.dry_run(shop, "spring", now=NOW)
    picked = {
        row["segment"]: (row["audience"], row["queued"], row["no_consent"], row["no_address"])
        for row in summary
    }
    assert picked == {"vip": (4, 2, 1, 1), "lapsed": (2, 1, 1, 0)}
    assert _outbox(tmp_path) == []
    assert shop.store.scalar("SELECT count(*) FROM send_ledger") == 0


def test_send_delivers_each_recipient_once(shop: Workspace, tmp_path: Path) -> None:
    service.create_campaign(shop, service.parse_campaign(sms_campaign()))
    service.send(shop, "spring", now=NOW)
    report = service.run_worker(shop, until_idle=True, clock=lambda: NOW, poll_seconds=0.01)
    assert report.delivered == 3
    sent = sorted((m["to"], m["body"]) for m in _outbox(tmp_path))
    assert sent == [
        ("+420777000001", "VIP Name1"),
        ("+420777000002", "VIP Name2"),
        ("+420777000003", "Come back Name3"),
    ]
    assert service.status(shop, "spring")["state"] == "completed"
    ledger = {
        (row["status"], row["reason"]): row["messages"]
        for row in service.status(shop, "spring")["ledger"]
    }
    assert ledger == {
        ("sent", ""): 3,
        ("skipped", "no_consent"): 2,
        ("skipped", "no_address"): 1,
    }
    snapshot = shop.store.query(
        "SELECT customer_id, segment FROM campaign_audience ORDER BY customer_id"
    )
    assert [(r["customer_id"], r["segment"]) for r in snapshot] == [
        ("C0001", "vip"), ("C0002", "vip"), ("C0003", "lapsed"), ("C0005", "vip"),
        ("C0006", "vip"), ("C0008", "lapsed"),
    ]  # fmt: skip


def test_pause_holds_messages_until_resume(shop: Workspace, tmp_path: Path) -> None:
    service.create_campaign(shop, service.parse_campaign(sms_campaign()))
    service.send(shop, "spring", now=NOW)
    service.pause(shop, "spring")
    assert service.run_worker(shop, once=True, clock=lambda: NOW).delivered == 0
    assert _outbox(tmp_path) == []
    assert service.resume(shop, "spring") == "sending"
    assert service.run_worker(shop, until_idle=True, clock=lambda: NOW).delivered == 3


def test_stop_reply_blocks_the_next_campaign(shop: Workspace, tmp_path: Path) -> None:
    first = inbound_reply(shop, "+420777000001", " Stop ", NOW)
    again = inbound_reply(shop, "+420777000001", "STOP", NOW)
    assert (first["confirm"], again["confirm"]) == (True, False)
    assert inbound_reply(shop, "+420777000002", "СТОП", NOW)["stop"] is True
    service.create_campaign(shop, service.parse_campaign(sms_campaign()))
    summary = service.dry_run(shop, "spring", now=NOW)
    vip = next(row for row in summary if row["segment"] == "vip")
    assert (vip["queued"], vip["no_consent"]) == (0, 3)


def test_only_a_draft_can_be_sent(shop: Workspace) -> None:
    service.create_campaign(shop, service.parse_campaign(sms_campaign()))
    service.send(shop, "spring", now=NOW)
    with pytest.raises(ServiceError, match="only a draft"):
        service.send(shop, "spring", now=NOW)


def test_unknown_template_field_is_refused(shop: Workspace) -> None:
    bad = sms_campaign(segments=[{"segment": "vip", "template": {"body": "Hi {{ nmae }}"}}])
    with pytest.raises(ServiceError, match="unknown field"):
        service.create_campaign(shop, service.parse_campaign(bad))


def test_links_in_a_sent_campaign_become_tracked_short_links(
    shop: Workspace, tmp_path: Path
) -> None:
    definition = sms_campaign()
    definition["segments"][0]["template"] = {
        "body": "VIP {{ first_name }}: https://shop.example/vip"
    }
    service.create_campaign(shop, service.parse_campaign(definition))
    service.send(shop, "spring", now=NOW)
    service.run_worker(shop, until_idle=True, poll_seconds=0.01, clock=lambda: NOW)
    links = shop.store.query(
        "SELECT code, customer_id, segment, original, destination FROM tracked_links "
        "ORDER BY customer_id"
    )
    assert [(row["customer_id"], row["segment"], row["original"]) for row in links] == [
        ("C0001", "vip", "https://shop.example/vip"),
        ("C0002", "vip", "https://shop.example/vip"),
    ]
    assert all("utm_campaign=spring" in row["destination"] for row in links)
    bodies = {m["metadata"]["customer_id"]: m["body"] for m in _outbox(tmp_path)}  # type: ignore[index]
    for row in links:
        assert bodies[row["customer_id"]].endswith(f"/r/{row['code']}")
        assert "shop.example/vip" not in bodies[row["customer_id"]]
