"""The webhooks, driven in-process (Starlette's TestClient) against a real workspace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from segmentum.api.app import create_app
from segmentum.campaigns.channels.http_sms import sign_body
from segmentum.campaigns.channels.unsubscribe import unsubscribe_token
from segmentum.service.server import Server, ServerSettings
from segmentum.service.workspace import Workspace
from tests.api.conftest import (
    EMAIL_SECRET,
    SMS_SECRET,
    UNSUBSCRIBE_SECRET,
    Shop,
    digest,
    prepare,
)

pytestmark = pytest.mark.usefixtures("secrets")
SIGNATURE = "X-Segmentum-Signature"


@pytest.fixture(scope="module")
def shop_template(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    return prepare(tmp_path_factory.mktemp("shop"))


@pytest.fixture
def shop(shop_template: Shop, tmp_path: Path) -> Shop:
    """A private copy of the prepared workspace for each test."""
    copy = tmp_path / "shop.duckdb"
    copy.write_bytes(Path(shop_template.db).read_bytes())
    return Shop(str(copy), shop_template.outbox)


@pytest.fixture
def client(shop: Shop) -> Iterator[TestClient]:
    app = create_app(ServerSettings(db=shop.db, worker=False))
    with TestClient(app) as test_client:
        yield test_client


def server(client: TestClient) -> Server:
    running = client.app.state.server  # type: ignore[attr-defined]
    assert isinstance(running, Server)
    return running


def signed(payload: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", SIGNATURE: sign_body(secret, body)}


def statuses(client: TestClient) -> dict[str, str]:
    with server(client).locked() as ws:
        rows = ws.store.query("SELECT message_key, status FROM send_ledger")
    return {row["message_key"]: row["status"] for row in rows}


def consent(client: TestClient, channel: str) -> dict[str, str]:
    with server(client).locked() as ws:
        rows = ws.engine.raw_sql(
            "SELECT customer_id, status FROM subscriptions WHERE channel = ? ORDER BY 1",
            (channel,),
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def suppressed(client: TestClient, channel: str) -> set[str]:
    with server(client).locked() as ws:
        rows = ws.store.query("SELECT address_hash FROM suppressions WHERE channel = ?",
                              (channel,))  # fmt: skip
    return {row["address_hash"] for row in rows}


def test_health_reports_the_worker(client: TestClient) -> None:
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "worker": "stopped", "worker_error": None}


# --- delivery receipts -------------------------------------------------------------------------


def test_a_receipt_marks_the_message_delivered(client: TestClient) -> None:
    before = statuses(client)
    key = sorted(before)[0]
    assert before[key] == "sent"
    body, headers = signed({"message_id": key, "status": "DELIVRD"}, SMS_SECRET)
    answer = client.post("/webhooks/sms/receipts", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == "updated"
    after = statuses(client)
    assert after[key] == "delivered"
    assert {k: v for k, v in after.items() if k != key} == {
        k: v for k, v in before.items() if k != key
    }
    # a repeated receipt changes nothing
    again = client.post("/webhooks/sms/receipts", content=body, headers=headers)
    assert again.json()["result"] == "unchanged"


def test_a_failed_receipt_as_a_form_marks_failed(client: TestClient) -> None:
    key = sorted(statuses(client))[1]
    body = f"id={key}&stat=UNDELIV".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               SIGNATURE: sign_body(SMS_SECRET, body)}  # fmt: skip
    answer = client.post("/webhooks/sms/receipts", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert statuses(client)[key] == "failed"


def test_a_receipt_for_an_unknown_message_is_404(client: TestClient) -> None:
    body, headers = signed({"message_id": "nope", "status": "DELIVRD"}, SMS_SECRET)
    assert client.post("/webhooks/sms/receipts", content=body, headers=headers).status_code == 404


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=" + "0" * 64, "garbage", "email-secret"],
    ids=["missing", "empty", "zeros", "garbage", "other-secret"],
)
def test_unsigned_or_badly_signed_receipts_are_401_and_change_nothing(
    client: TestClient, signature: str | None
) -> None:
    before = statuses(client)
    key = sorted(before)[0]
    body = json.dumps({"message_id": key, "status": "DELIVRD"}).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "email-secret":
        headers[SIGNATURE] = sign_body(EMAIL_SECRET, body)  # another provider's secret
    elif signature is not None:
        headers[SIGNATURE] = signature
    answer = client.post("/webhooks/sms/receipts", content=body, headers=headers)
    assert answer.status_code == 401
    assert SMS_SECRET not in answer.text
    assert statuses(client) == before


def test_a_signature_over_another_body_is_401(client: TestClient) -> None:
    before = statuses(client)
    key = sorted(before)[0]
    _, headers = signed({"message_id": key, "status": "UNDELIV"}, SMS_SECRET)
    body = json.dumps({"message_id": key, "status": "DELIVRD"}).encode()
    answer = client.post("/webhooks/sms/receipts", content=body, headers=headers)
    assert answer.status_code == 401
    assert statuses(client) == before


# --- inbound replies ---------------------------------------------------------------------------


def test_stop_opts_out_and_a_second_stop_gets_no_second_confirmation(
    client: TestClient,
) -> None:
    phone = "+420777000000"  # C0000 and C0001
    body, headers = signed({"from": phone, "text": "STOP"}, SMS_SECRET)
    first = client.post("/webhooks/sms/inbound", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["stop"] is True
    assert first.json()["confirm"] is True
    assert first.json()["reply"]
    sms = consent(client, "sms")
    assert sms["C0000"] == sms["C0001"] == "opted_out"
    assert sms["C0002"] == "opted_in"
    assert digest(phone) in suppressed(client, "sms")
    body, headers = signed({"from": phone.lstrip("+"), "text": " stop! "}, SMS_SECRET)
    second = client.post("/webhooks/sms/inbound", content=body, headers=headers)
    assert second.status_code == 200
    assert second.json() == {"stop": True, "confirm": False}


def test_a_czech_stop_keyword_and_a_plain_reply(client: TestClient) -> None:
    body, headers = signed({"from": "+420777000003", "text": "odhlásit"}, SMS_SECRET)
    assert client.post("/webhooks/sms/inbound", content=body, headers=headers).json()["stop"]
    body, headers = signed({"from": "+420777000004", "text": "thanks!"}, SMS_SECRET)
    answer = client.post("/webhooks/sms/inbound", content=body, headers=headers).json()
    assert answer == {"stop": False, "confirm": False}
    assert consent(client, "sms")["C0004"] == "opted_in"


def test_an_unsigned_stop_is_401_and_changes_nothing(client: TestClient) -> None:
    body = json.dumps({"from": "+420777000002", "text": "STOP"}).encode()
    answer = client.post("/webhooks/sms/inbound", content=body,
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 401
    assert consent(client, "sms")["C0002"] == "opted_in"
    assert suppressed(client, "sms") == set()


# --- e-mail events -----------------------------------------------------------------------------


def test_a_hard_bounce_suppresses_the_address(client: TestClient) -> None:
    body, headers = signed({"type": "bounce", "bounce_type": "hard",
                            "email": "C3@Example.com"}, EMAIL_SECRET)  # fmt: skip
    answer = client.post("/webhooks/email/events", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "hard_bounce"
    assert digest("c3@example.com") in suppressed(client, "email")
    assert consent(client, "email")["C0003"] == "opted_out"


def test_a_soft_bounce_is_ignored_and_a_complaint_suppresses(client: TestClient) -> None:
    body, headers = signed({"type": "bounce", "bounce_type": "soft", "email": "c2@example.com"},
                           EMAIL_SECRET)  # fmt: skip
    assert client.post("/webhooks/email/events", content=body, headers=headers).json()["ignored"]
    assert suppressed(client, "email") == set()
    body, headers = signed({"type": "complaint", "email": "c2@example.com"}, EMAIL_SECRET)
    assert client.post("/webhooks/email/events", content=body, headers=headers).status_code == 200
    assert digest("c2@example.com") in suppressed(client, "email")


def test_an_email_event_signed_with_the_sms_secret_is_401(client: TestClient) -> None:
    body, headers = signed({"type": "complaint", "email": "c2@example.com"}, SMS_SECRET)
    assert client.post("/webhooks/email/events", content=body, headers=headers).status_code == 401
    assert suppressed(client, "email") == set()


# --- one-click unsubscribe ---------------------------------------------------------------------

ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


def test_get_shows_a_confirmation_and_changes_nothing(client: TestClient) -> None:
    token = unsubscribe_token(UNSUBSCRIBE_SECRET, "C0004", "email", "spring")
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert 'method="post"' in page.text
    assert consent(client, "email")["C0004"] == "opted_in"


def test_one_click_post_unsubscribes(client: TestClient) -> None:
    token = unsubscribe_token(UNSUBSCRIBE_SECRET, "C0004", "email", "spring")
    answer = client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
                         headers=ONE_CLICK)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert consent(client, "email")["C0004"] == "opted_out"
    assert consent(client, "email")["C0005"] == "opted_in"
    assert digest("c4@example.com") in suppressed(client, "email")
    # the query form the SMTP channel's List-Unsubscribe link uses works too (and repeats)
    again = client.post("/unsubscribe", params={"token": token},
                        content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)  # fmt: skip
    assert again.status_code == 200


def _tampered(token: str) -> list[str]:
    payload, signature = token.split(".")
    other = unsubscribe_token(UNSUBSCRIBE_SECRET, "C0005", "email", "spring")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return [
        f"{payload}.{flipped}",  # signature changed
        f"{other.split('.')[0]}.{signature}",  # another customer's payload, this signature
        unsubscribe_token("not-the-secret", "C0004", "email", "spring"),  # wrong key
        payload,  # no signature
        "garbage",
    ]


def test_tampered_unsubscribe_tokens_are_refused(client: TestClient) -> None:
    token = unsubscribe_token(UNSUBSCRIBE_SECRET, "C0004", "email", "spring")
    for bad in _tampered(token):
        answer = client.post(f"/unsubscribe/{bad}", content=b"List-Unsubscribe=One-Click",
                             headers=ONE_CLICK)  # fmt: skip
        assert answer.status_code == 400, bad
        assert client.get(f"/unsubscribe/{bad}").status_code == 400
    assert set(consent(client, "email").values()) == {"opted_in"}
    assert suppressed(client, "email") == set()


def test_a_post_without_the_one_click_body_is_refused(client: TestClient) -> None:
    token = unsubscribe_token(UNSUBSCRIBE_SECRET, "C0004", "email", "spring")
    answer = client.post(f"/unsubscribe/{token}", content=b"", headers=ONE_CLICK)
    assert answer.status_code == 400
    assert consent(client, "email")["C0004"] == "opted_in"


def test_a_missing_secret_variable_fails_closed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SMS_HOOK_SECRET")
    body, headers = signed({"from": "+420777000002", "text": "STOP"}, SMS_SECRET)
    answer = client.post("/webhooks/sms/inbound", content=body, headers=headers)
    assert answer.status_code == 503
    assert "TEST_SMS_HOOK_SECRET" in answer.text
    assert consent(client, "sms")["C0002"] == "opted_in"


# --- campaigns ---------------------------------------------------------------------------------


def test_campaign_status(client: TestClient) -> None:
    listed = client.get("/campaigns").json()
    assert [row["campaign"] for row in listed] == ["spring"]
    status = client.get("/campaigns/spring").json()
    assert status["state"] == "completed"
    assert client.get("/campaigns/nope").status_code == 400


def test_the_workspace_closes_with_the_app(shop: Shop) -> None:
    app = create_app(ServerSettings(db=shop.db, worker=False))
    with TestClient(app):
        pass
    ws = Workspace.open(shop.db)  # the file is free again
    ws.close()
