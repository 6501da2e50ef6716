"""Automation messages may use ``last_order.*`` (the template check allows it) and render it
as campaign messages do: the recipient's latest order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from segmentum.service.membership import refresh_segments
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.workspace import Workspace
from tests.automations.shop import add_customer, add_order, outbox, send_on_entering_vip
from tests.campaigns.campaign_fixtures import outbox_settings

# A day ahead of the real clock, as in test_actions: the refresh at W must come after the
# segments were saved to be their initial population.
W = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)


@pytest.fixture
def shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    outbox_settings(workspace, str(tmp_path / "outbox"))
    for name in ("ann", "bob"):
        add_customer(workspace, name, W - timedelta(days=30))
    add_order(workspace, "A-1", "ann", W - timedelta(days=10), "80.00")
    add_order(workspace, "A-2", "ann", W - timedelta(days=2), "250.50")
    add_order(workspace, "B-1", "bob", W - timedelta(days=5), "19.90")
    create_segment(workspace, "vip", DefinitionSource(data={"where": {"has_tag": "vip"}}))
    refresh_segments(workspace, at=W)
    return workspace


@pytest.mark.parametrize(
    ("customers", "bodies"),
    [
        (["ann"], ["Thanks for A-2: 250.50 EUR"]),
        (["ann", "bob"], ["Thanks for A-2: 250.50 EUR", "Thanks for B-1: 19.90 EUR"]),
    ],
)
def test_automation_messages_render_the_last_order(
    shop: Workspace, tmp_path: Path, customers: list[str], bodies: list[str]
) -> None:
    template = {"body": "Thanks for {{ last_order.number }}: {{ last_order.amount }} "
                        "{{ last_order.currency }}"}  # fmt: skip
    send_on_entering_vip(shop, "thanks", "sms", template, customers, W, W + timedelta(minutes=1))

    ledger = shop.store.query(
        "SELECT customer_id, status FROM send_ledger WHERE campaign_id = 'automation:thanks' "
        "ORDER BY customer_id"
    )
    assert [(row["customer_id"], row["status"]) for row in ledger] == [
        (customer, "sent") for customer in customers
    ]
    assert sorted(m["body"] for m in outbox(tmp_path / "outbox", "sms")) == bodies
