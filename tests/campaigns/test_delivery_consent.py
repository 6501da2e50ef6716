"""Consent at delivery: a message planned before an opt-out, a STOP reply, a hard bounce or an
erasure is skipped with that reason, never sent; a message whose send raises fails alone; a
test send of several variants writes one ledger row per variant before the provider call."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from segmentum.campaigns.channels.base import OutgoingMessage, SendResult, send_many
from segmentum.campaigns.policy import recheck
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import campaigns as service
from segmentum.service.consent import email_event, forget_customer, inbound_reply
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
LATER = datetime(2026, 5, 4, 10, 5, tzinfo=UTC)


@pytest.fixture
def shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    outbox_settings(workspace, str(tmp_path / "outbox"))
    load_customers(workspace, [customer(i, ["vip"]) for i in range(1, 6)])
    load_subscriptions(
        workspace,
        [(f"C{i:04d}", channel, "opted_in") for i in range(1, 6) for channel in ("sms", "email")],
    )
    tag_segments(workspace, "vip", "lapsed", "complained")
    return workspace


def _outbox(tmp_path: Path, channel: str) -> list[dict[str, Any]]:
    path = tmp_path / "outbox" / f"{channel}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _ledger(ws: Workspace) -> list[tuple[str, str, str | None]]:
    rows = ws.store.query(
        "SELECT customer_id, status, reason FROM send_ledger WHERE source = 'campaign' "
        "ORDER BY customer_id"
    )
    return [(r["customer_id"], r["status"], r["reason"]) for r in rows]


def test_consent_lost_after_planning_skips_the_queued_message(
    shop: Workspace, tmp_path: Path
) -> None:
    service.create_campaign(shop, service.parse_campaign(sms_campaign()))
    service.send(shop, "spring", now=NOW)  # five messages queued
    inbound_reply(shop, "+420777000001", "Стоп", LATER)  # STOP reply: opted out
    token = forget_customer(shop, "C0003", LATER)["token"]  # erased: no address any more
    report = service.run_worker(shop, until_idle=True, clock=lambda: LATER, poll_seconds=0.01)
    assert report.delivered == 5  # every claimed row answered
    assert sorted(m["to"] for m in _outbox(tmp_path, "sms")) == [
        "+420777000002", "+420777000004", "+420777000005",
    ]  # fmt: skip
    assert _ledger(shop) == [
        ("C0001", "skipped", "no_consent"),
        ("C0002", "sent", None),
        ("C0004", "sent", None),
        ("C0005", "sent", None),
        (token, "skipped", "no_address"),
    ]


def test_a_hard_bounce_after_planning_suppresses_the_queued_email(
    shop: Workspace, tmp_path: Path
) -> None:
    campaign = sms_campaign(channel="email")
    campaign["segments"] = [
        {"segment": "vip", "template": {"subject": "Hi", "body": "VIP {{ first_name }}"}}
    ]
    campaign.pop("exclude")
    service.create_campaign(shop, service.parse_campaign(campaign))
    service.send(shop, "spring", now=NOW)
    assert email_event(shop, "c2@example.com", "hard_bounce", LATER)["suppressed"] is True
    service.run_worker(shop, until_idle=True, clock=lambda: LATER, poll_seconds=0.01)
    assert sorted(m["to"] for m in _outbox(tmp_path, "email")) == [
        "c1@example.com", "c3@example.com", "c4@example.com", "c5@example.com",
    ]  # fmt: skip
    # a hard bounce opts the customer out of email and suppresses the address: consent is
    # checked first, as in the gate
    assert ("C0002", "skipped", "no_consent") in _ledger(shop)


@pytest.mark.parametrize(
    ("recipient", "status", "suppressed", "reason"),
    [
        ("+420777000001", "opted_in", False, None),
        ("+420777000001", "opted_out", False, "no_consent"),
        ("+420777000001", None, False, "no_consent"),  # no consent row at all
        ("+420777000001", "opted_in", True, "suppressed"),
        (None, "opted_in", False, "no_address"),
        ("  ", "opted_in", False, "no_address"),
    ],
)
def test_recheck_applies_the_gate_s_consent_rules(
    recipient: str | None, status: str | None, suppressed: bool, reason: str | None
) -> None:
    claimed = pa.table(
        {
            "message_key": ["k1"],
            "customer_id": ["C1"],
            "channel": ["sms"],
            "recipient": pa.array([recipient], pa.string()),
        }
    )
    consent = pa.table(
        {
            "customer_id": ["C1", "C1"] if status else [],
            "channel": ["sms", "sms"] if status else [],
            # the newest row wins: an older opposite row must not count
            "status": [("opted_out" if status == "opted_in" else "opted_in"), status]
            if status
            else [],
            "changed_at": pa.array(
                [datetime(2026, 1, 1), datetime(2026, 2, 1)] if status else [],
                pa.timestamp("us"),
            ),
        }
    )
    from segmentum.campaigns.policy import address_hash

    suppressions = pa.table(
        {
            "channel": ["sms"] if suppressed else [],
            "address_hash": [address_hash("+420777000001")] if suppressed else [],
        },
        schema=pa.schema([("channel", pa.string()), ("address_hash", pa.string())]),
    )
    refused = recheck(claimed, consent, suppressions).to_pylist()
    assert refused == ([] if reason is None else [{"message_key": "k1", "reason": reason}])


class _Flaky:
    """Raises for one recipient (as a provider library crashing on one message would)."""

    name = "sms"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.to == "+2":
            raise AttributeError("'NoneType' object has no attribute 'strip'")
        self.sent.append(message.to)
        return SendResult("sent", provider_message_id=f"id-{message.to}")

    def close(self) -> None:
        return None


def test_one_message_raising_fails_alone() -> None:
    channel = _Flaky()
    messages = [
        OutgoingMessage(idempotency_key=f"k{i}", channel="sms", to=f"+{i}", body="hi")
        for i in (1, 2, 3)
    ]
    answers = send_many(channel, messages)
    assert [(a.status, a.provider_message_id, a.error) for a in answers] == [
        ("sent", "id-+1", None),
        ("temporary_failure", None, "AttributeError: 'NoneType' object has no attribute 'strip'"),
        ("sent", "id-+3", None),
    ]
    assert channel.sent == ["+1", "+3"]


def test_a_test_send_of_two_variants_reaches_each_seed_once_per_variant(
    shop: Workspace, tmp_path: Path
) -> None:
    data = shop.settings.model_dump(mode="json")
    data["seed_list"] = {"sms": ["+420777123456", "+48601234567"]}
    shop.update_settings(WorkspaceSettings.model_validate(data))
    campaign = sms_campaign()
    campaign["segments"] = [
        {
            "segment": "vip",
            "variants": [
                {"name": "a", "split": 50, "template": {"body": "A {{ first_name }}"}},
                {"name": "b", "split": 50, "template": {"body": "B {{ first_name }}"}},
            ],
        }
    ]
    campaign.pop("exclude")
    service.create_campaign(shop, service.parse_campaign(campaign))
    results = service.send_test(shop, "spring", now=NOW)
    assert sorted((r["variant"], r["recipient"], r["status"]) for r in results) == [
        ("a", "+420777123456", "sent"), ("a", "+48601234567", "sent"),
        ("b", "+420777123456", "sent"), ("b", "+48601234567", "sent"),
    ]  # fmt: skip
    sent = sorted((m["to"], m["body"][0]) for m in _outbox(tmp_path, "sms"))
    assert sent == [
        ("+420777123456", "A"), ("+420777123456", "B"),
        ("+48601234567", "A"), ("+48601234567", "B"),
    ]  # fmt: skip
    rows = shop.store.query(
        "SELECT variant, status, attempts FROM send_ledger WHERE source = 'test' "
        "ORDER BY variant, recipient"
    )
    assert [(r["variant"], r["status"], r["attempts"]) for r in rows] == [
        ("a", "sent", 1), ("a", "sent", 1), ("b", "sent", 1), ("b", "sent", 1),
    ]  # fmt: skip
