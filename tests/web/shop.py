"""A small real workspace for the REST and page tests: six customers tagged vip (segments vip,
lapsed, complained), a draft SMS campaign ``spring``, a seed list, refreshed memberships, and
one user per role (password ``PASSWORD``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from segmentum.api.app import create_app
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import campaigns as campaign_service
from segmentum.service import membership, users
from segmentum.service.server import ServerSettings
from segmentum.service.workspace import Workspace
from tests.api.conftest import EMAIL_SECRET, SMS_SECRET, UNSUBSCRIBE_SECRET, channels
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    load_subscriptions,
    outbox_settings,
    sms_campaign,
    tag_segments,
)

PASSWORD = "correct horse battery"
CUSTOMERS = 6
ROLES = ("viewer", "marketer", "admin")
#: ibis 12's ``execute()`` reads pandas' deprecated ``future.infer_string`` option (pandas 3.1
#: warns); service.segments' preview and explain call it. Harmless; ignored in these tests.
IBIS_PANDAS_WARNING = "ignore:The 'future.infer_string' option is deprecated"


def build_shop(tmp_path: Path, *, webhook_secrets: bool = False) -> str:
    """The workspace file; with ``webhook_secrets`` the channels name secret variables, which
    are set in this process's environment (the webhooks then answer 401, not 503)."""
    db = str(tmp_path / "shop.duckdb")
    ws = Workspace.open(db)
    try:
        outbox_settings(ws, str(tmp_path / "outbox"))
        rows = [customer(i, ["vip"]) for i in range(CUSTOMERS)]
        load_customers(ws, rows)
        load_subscriptions(
            ws, [(f"C{i:04d}", ch, "opted_in") for i in range(CUSTOMERS) for ch in ("sms", "email")]
        )
        tag_segments(ws, "vip", "lapsed", "complained")
        campaign_service.create_campaign(ws, campaign_service.parse_campaign(sms_campaign()))
        data = ws.settings.model_dump(mode="json")
        if webhook_secrets:
            data["channels"] = channels(tmp_path / "outbox")
            os.environ.update(
                TEST_SMS_HOOK_SECRET=SMS_SECRET,
                TEST_EMAIL_HOOK_SECRET=EMAIL_SECRET,
                TEST_UNSUBSCRIBE_SECRET=UNSUBSCRIBE_SECRET,
            )
        data["seed_list"] = {"sms": ["+420777999999"], "email": ["seed@example.com"]}
        ws.update_settings(WorkspaceSettings.model_validate(data))
        membership.refresh_segments(ws)
        for role in ROLES:
            users.create_user(ws, role, PASSWORD, role)
    finally:
        ws.close()
    return db


@contextmanager
def client_for(db: str) -> Iterator[TestClient]:
    app = create_app(ServerSettings(db=db, worker=False))
    with TestClient(app) as client:
        yield client


def log_in(client: TestClient, username: str) -> str:
    """Log in through the API; returns the CSRF token and sets it as a default header."""
    answer = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return token
