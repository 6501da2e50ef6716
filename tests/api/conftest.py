"""A real workspace (DuckDB file) with a sent SMS campaign and an e-mail campaign in the
outbox, and the webhook secrets in the environment."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from segmentum.service import campaigns as campaign_service
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    load_subscriptions,
    outbox_settings,
    sms_campaign,
    tag_segments,
)

SMS_SECRET = "sms-hook-secret-1"
EMAIL_SECRET = "email-hook-secret-2"
UNSUBSCRIBE_SECRET = "unsubscribe-secret-3"
CUSTOMERS = 6


@dataclass
class Shop:
    db: str
    outbox: Path

    def ledger(self, ws: Workspace) -> dict[str, str]:
        rows = ws.store.query("SELECT message_key, status FROM send_ledger")
        return {row["message_key"]: row["status"] for row in rows}


def channels(outbox: Path) -> dict[str, dict[str, str]]:
    return {
        "sms": {"type": "outbox", "path": str(outbox / "sms.jsonl"),
                "webhook_secret_env": "TEST_SMS_HOOK_SECRET"},
        "email": {"type": "outbox", "path": str(outbox / "email.jsonl"),
                  "webhook_secret_env": "TEST_EMAIL_HOOK_SECRET",
                  "unsubscribe_secret_env": "TEST_UNSUBSCRIBE_SECRET"},
    }  # fmt: skip


def prepare(tmp_path: Path, *, deliver: bool = True) -> Shop:
    db = str(tmp_path / "shop.duckdb")
    outbox = tmp_path / "outbox"
    ws = Workspace.open(db)
    try:
        outbox_settings(ws, str(outbox))
        data = ws.settings.model_dump(mode="json")
        data["channels"] = channels(outbox)
        from segmentum.catalog.settings import WorkspaceSettings

        ws.update_settings(WorkspaceSettings.model_validate(data))
        # C0000 and C0001 share a phone (one household): a STOP opts both out
        rows = [customer(i, ["vip"]) for i in range(CUSTOMERS)]
        rows[1]["phone"] = rows[0]["phone"]
        load_customers(ws, rows)
        load_subscriptions(
            ws,
            [(f"C{i:04d}", ch, "opted_in") for i in range(CUSTOMERS) for ch in ("sms", "email")],
        )
        tag_segments(ws, "vip", "lapsed", "complained")
        campaign_service.create_campaign(ws, campaign_service.parse_campaign(sms_campaign()))
        campaign_service.send(ws, "spring", now=datetime.now(UTC))
        if deliver:
            campaign_service.run_worker(ws, until_idle=True, poll_seconds=0.01)
    finally:
        ws.close()
    return Shop(db, outbox)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SMS_HOOK_SECRET", SMS_SECRET)
    monkeypatch.setenv("TEST_EMAIL_HOOK_SECRET", EMAIL_SECRET)
    monkeypatch.setenv("TEST_UNSUBSCRIBE_SECRET", UNSUBSCRIBE_SECRET)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
