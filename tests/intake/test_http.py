"""The intake endpoints in-process: idempotency, limits, partly bad batches, scopes, time."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from segmentum.api.app import create_app
from segmentum.api.routers import intake as intake_router
from segmentum.service import intake, keys
from segmentum.service.server import ServerSettings
from tests.intake.conftest import Shop, basic, bearer, query, server_of

RECEIVED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def client(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(intake_router, "now_utc", lambda: RECEIVED)
    with TestClient(create_app(ServerSettings(db=shop.db, worker=False))) as test_client:
        yield test_client


def post_batch(client: TestClient, shop: Shop, messages: list[Any], **extra: Any) -> Any:
    return client.post(
        "/v1/batch", json={"batch": messages, **extra}, headers=basic(shop.keys["ingest"])
    )


def track(
    message_id: str, customer: str = "C1", event: str = "Review Written", **fields: Any
) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": customer,
        "event": event,
        "messageId": message_id,
        "properties": {"rating": 4},
        "timestamp": "2025-06-01T10:00:00Z",
        **fields,
    }


def test_a_resent_message_id_is_acknowledged_and_stored_once(
    client: TestClient, shop: Shop
) -> None:
    first = post_batch(client, shop, [track("m-1"), track("m-1")])
    again = post_batch(client, shop, [track("m-1")])
    assert first.status_code == again.status_code == 200
    assert first.json()["accepted"] == [
        {"index": 0, "messageId": "m-1"},
        {"index": 1, "messageId": "m-1", "duplicate": True},
    ]
    assert again.json()["accepted"] == [{"index": 0, "messageId": "m-1", "duplicate": True}]
    app = client.app
    assert query(app, "SELECT event_id, rating FROM events") == [("m-1", 4)]
    assert query(app, "SELECT count(*) FROM intake_messages") == [(1,)]


def test_limits_answer_413_naming_the_limit(client: TestClient, shop: Shop) -> None:
    many = post_batch(client, shop, [track(f"m-{i}") for i in range(2501)])
    assert many.status_code == 413
    assert "2,500 messages per batch" in many.json()["message"]
    big = post_batch(
        client, shop, [track(f"m-{i}", properties={"x": "y" * 30_000}) for i in range(20)]
    )
    assert big.status_code == 413
    assert "500 KB" in big.json()["message"]
    single = client.post(
        "/v1/track",
        json=track("m-x", properties={"x": "y" * 40_000}),
        headers=basic(shop.keys["ingest"]),
    )
    assert single.status_code == 413
    assert "32 KB (32,768 bytes) per message" in single.json()["message"]
    bomb = gzip.compress(
        json.dumps({"batch": [track("m-z", properties={"x": "0" * 600_000})]}).encode()
    )
    gzipped = client.post(
        "/v1/batch",
        content=bomb,
        headers={
            **basic(shop.keys["ingest"]),
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert gzipped.status_code == 413
    assert query(client.app, "SELECT count(*) FROM events") == [(0,)]


def test_a_partly_bad_batch_answers_which_were_accepted_and_why_not(
    client: TestClient, shop: Shop
) -> None:
    messages = [
        track("ok-1"),
        track("bad-type", event="Something Unheard Of"),
        {"type": "identify", "userId": "C2", "messageId": "bad-mail", "traits": {"email": "nope"}},
        track("bad-date", timestamp="yesterday"),
        track("future", timestamp="2025-06-03T12:00:01Z"),
        {"type": "identify", "messageId": "anon", "anonymousId": "a-1", "traits": {}},
        track("big", properties={"x": "y" * 33_000}),
        {"type": "alias", "userId": "C1", "previousId": "x", "messageId": "alias"},
        track("bad-rating", properties={"rating": "five"}),
        {
            "type": "track",
            "userId": "C3",
            "event": "Order Completed",
            "messageId": "order-1",
            "properties": {"order_id": "O-9", "total": 10, "products": [{"product_id": "P1"}]},
        },
        track("ok-2", customer="C4"),
    ]
    answer = post_batch(client, shop, messages)
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is False
    assert body["accepted"] == [
        {"index": 0, "messageId": "ok-1"},
        {"index": 10, "messageId": "ok-2"},
    ]
    assert [(r["index"], r["messageId"], r["reasons"]) for r in body["rejected"]] == [
        (1, "bad-type", ["unknown_event_type"]),
        (2, "bad-mail", ["bad_email"]),
        (3, "bad-date", ["bad_date"]),
        (4, "future", ["future_timestamp"]),
        (5, "anon", ["missing_user_id"]),
        (6, "big", ["message_too_large"]),
        (7, "alias", ["unsupported_type"]),
        (8, "bad-rating", ["bad_number"]),
        (9, "order-1", ["missing_required"]),
    ]
    app = client.app
    quarantined = query(
        app, "SELECT row_number, reasons, table_name, source FROM quarantine ORDER BY row_number"
    )
    assert [(n, r) for n, r, _, _ in quarantined] == [
        (r["index"], r["reasons"][0]) for r in body["rejected"]
    ]
    assert {source for *_, source in quarantined} == {"intake:http"}
    raw = query(app, "SELECT raw FROM quarantine WHERE row_number = 2")
    assert json.loads(raw[0][0])["traits"] == {"email": "nope"}
    assert query(app, "SELECT event_id FROM events ORDER BY 1") == [("ok-1",), ("ok-2",)]
    assert query(app, "SELECT count(*) FROM orders") == [(0,)]
    assert query(app, "SELECT customer_id FROM customers ORDER BY 1") == [("C1",), ("C4",)]
    # a rejected message sent again after the fix is accepted (its id was not taken)
    fixed = post_batch(client, shop, [track("bad-rating")])
    assert fixed.json()["accepted"] == [{"index": 0, "messageId": "bad-rating"}]


def test_clock_skew_zone_less_and_missing_timestamps(client: TestClient, shop: Shop) -> None:
    # the client's clock is 1 h 30 s behind: sentAt 10:29:30 arrives at 12:00:00
    skewed = track("skew", timestamp="2025-06-01T10:00:00.250+00:00", sentAt="2025-06-01T10:29:30Z")
    batch_level = track("batch-sent", timestamp="2025-06-01T11:00:00Z")
    zone_less = track("zone-less", timestamp="2025-06-01T08:15:00")
    offset = track("offset", timestamp="2025-06-01T10:15:00+02:00")
    missing = track("missing")
    missing.pop("timestamp")
    answer = post_batch(
        client,
        shop,
        [skewed, batch_level, zone_less, offset, missing],
        sentAt="2025-06-01T11:59:00Z",
    )
    assert len(answer.json()["accepted"]) == 5
    rows = dict(query(client.app, "SELECT event_id, occurred_at FROM events"))
    assert rows == {
        "skew": datetime(2025, 6, 1, 11, 30, 30, 250000),  # 10:00:00.25 + (12:00 - 10:29:30)
        "batch-sent": datetime(2025, 6, 1, 11, 1),  # 11:00 + (12:00 - 11:59)
        "zone-less": datetime(2025, 6, 1, 8, 16),  # UTC, then + 1 min
        "offset": datetime(2025, 6, 1, 8, 16),
        "missing": datetime(2025, 6, 1, 12, 0),  # the receipt
    }


def test_identify_upserts_traits_it_carries_and_leaves_the_rest(
    client: TestClient, shop: Shop
) -> None:
    ingest = basic(shop.keys["ingest"])
    first = {
        "userId": "C7",
        "messageId": "i-1",
        "traits": {"email": "a@b.cz", "first_name": "Eva", "favourite_color": "red"},
    }
    second = {
        "userId": "C7",
        "messageId": "i-2",
        "traits": {
            "phone": "+420601123456",
            "email": None,
            "loyaltyTier": "gold",
            "createdAt": "2024-01-02T03:04:05Z",
        },
    }
    assert client.post("/v1/identify", json=first, headers=ingest).status_code == 200
    assert client.post("/v1/identify", json=second, headers=ingest).status_code == 200
    rows = query(
        client.app,
        "SELECT email, first_name, phone, loyalty_tier, signup_at, favourite_color FROM customers",
    )
    assert rows == [
        ("a@b.cz", "Eva", "+420601123456", "gold", datetime(2024, 1, 2, 3, 4, 5), "red")
    ]
    bad = client.post(
        "/v1/identify", json={"userId": "C7", "traits": {"phone": "12"}}, headers=ingest
    )
    assert bad.status_code == 400
    assert bad.json()["rejected"][0]["reasons"] == ["bad_phone"]


def test_subscriptions_newest_change_wins(client: TestClient, shop: Shop) -> None:
    ingest = basic(shop.keys["ingest"])
    newer = {
        "userId": "C1",
        "channel": "SMS",
        "status": "opted_out",
        "changed_at": "2025-05-02T00:00:00Z",
    }
    older = {
        "userId": "C1",
        "channel": "sms",
        "status": "opted_in",
        "changed_at": "2025-05-01T00:00:00Z",
    }
    assert client.post("/v1/subscriptions", json=newer, headers=ingest).status_code == 200
    assert client.post("/v1/subscriptions", json=older, headers=ingest).status_code == 200
    assert query(
        client.app, "SELECT customer_id, channel, status, changed_at, source FROM subscriptions"
    ) == [("C1", "sms", "opted_out", datetime(2025, 5, 2), "intake")]
    bad = client.post("/v1/subscriptions", json={**newer, "channel": "fax"}, headers=ingest)
    assert bad.json()["rejected"][0]["reasons"] == ["unknown_channel"]


def test_scopes_and_revocation(client: TestClient, shop: Shop) -> None:
    message = [track("s-1")]
    assert client.post("/v1/batch", json={"batch": message}).status_code == 401
    read = client.post("/v1/batch", json={"batch": message}, headers=basic(shop.keys["read"]))
    assert read.status_code == 403
    wrong = shop.keys["ingest"][:-4] + "AAAA"
    assert (
        client.post("/v1/batch", json={"batch": message}, headers=basic(wrong)).status_code == 401
    )
    assert (
        client.post(
            "/v1/batch", json={"batch": message}, headers=bearer(shop.keys["admin"])
        ).status_code
        == 200
    )
    with server_of(client.app).locked() as ws:
        keys.revoke_key(ws, shop.key_ids["ingest"])
    revoked = client.post("/v1/batch", json={"batch": message}, headers=basic(shop.keys["ingest"]))
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["message"]


def test_on_committed_publishes_the_touched_customers(client: TestClient, shop: Shop) -> None:
    seen: list[intake.Committed] = []
    with server_of(client.app).locked() as ws:
        unsubscribe = intake.on_committed(ws, seen.append)
    order = {
        "type": "track",
        "userId": "C9",
        "event": "Order Completed",
        "messageId": "o-1",
        "properties": {
            "order_id": "O-1",
            "total": 5,
            "products": [{"product_id": "P", "price": 5}],
        },
    }
    post_batch(client, shop, [track("e-1"), order, track("bad", event="Nope")])
    post_batch(client, shop, [track("e-1")])  # a duplicate commits nothing new
    unsubscribe()
    post_batch(client, shop, [track("e-2")])
    assert len(seen) == 1
    committed = seen[0]
    assert committed.messages == 2
    assert committed.by_table == {
        "events": frozenset({"C1"}),
        "orders": frozenset({"C9"}),
        "order_items": frozenset({"C9"}),
    }
    assert committed.created_customers == frozenset({"C1", "C9"})
    assert committed.customers == frozenset({"C1", "C9"})
    assert committed.event_types == frozenset({"review_written"})


def test_keys_are_never_logged(
    shop: Shop, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(intake_router, "now_utc", lambda: RECEIVED)
    with TestClient(create_app(ServerSettings(db=shop.db, worker=False))) as test_client:
        for headers in (
            basic(shop.keys["ingest"]),
            basic(shop.keys["read"]),
            bearer("sgm_0123456789ab_" + "x" * 43),
        ):
            test_client.post("/v1/batch", json={"batch": [track("l-1")]}, headers=headers)
        logging.getLogger("segmentum.test").warning("leaked %s", shop.keys["admin"])
        logging.getLogger("uvicorn.error").error(
            "header Authorization: %s", basic(shop.keys["ingest"])["Authorization"]
        )
    text = caplog.text + " ".join(str(record.args) for record in caplog.records)
    for key in shop.keys.values():
        assert key not in text
        assert basic(key)["Authorization"].split()[1] not in text
    assert "leaked [redacted]" in caplog.text
    assert "Basic [redacted]" in caplog.text


def test_the_redaction_filter() -> None:
    key = "sgm_0123456789ab_" + "A" * 43
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "key %s and Bearer %s", (key, "tok.en"), None
    )
    assert keys.KeyRedactingFilter().filter(record)
    assert record.getMessage() == "key [redacted] and Bearer [redacted]"


def test_json_lines_ingest_equals_the_http_path(shop: Shop, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from segmentum.cli.app import app as cli
    from tests.intake.conftest import prepare

    messages = [
        {
            "type": "identify",
            "userId": "C1",
            "messageId": "a",
            "timestamp": "2025-01-01T00:00:00Z",
            "traits": {"email": "x@y.cz", "address": {"country": "de"}},
        },
        {
            "type": "track",
            "userId": "C1",
            "event": "Order Completed",
            "messageId": "b",
            "timestamp": "2025-01-02T00:00:00Z",
            "properties": {
                "order_id": "O",
                "revenue": "9.90",
                "products": [{"product_id": "P", "price": 9.9}],
            },
        },
        {
            "type": "track",
            "userId": "C2",
            "event": "Cart Viewed",
            "messageId": "c",
            "timestamp": "2025-01-03T00:00:00Z",
            "properties": {
                "cart_id": "K",
                "products": [{"product_id": "P", "price": 2, "quantity": 3}],
            },
        },
        {"type": "page", "userId": "C2", "messageId": "d", "timestamp": "2025-01-04T00:00:00Z"},
        {
            "type": "subscription",
            "userId": "C2",
            "channel": "email",
            "status": "opted_in",
            "messageId": "e",
            "timestamp": "2025-01-05T00:00:00Z",
        },
        {"type": "track", "userId": "C2", "event": "Nope", "messageId": "f"},
    ]
    tables = "customers", "orders", "order_items", "events", "subscriptions"

    def dump(app_or_db: Any) -> dict[str, list[tuple[Any, ...]]]:
        return {t: query(app_or_db, f"SELECT * FROM {t} ORDER BY ALL") for t in tables}

    with TestClient(create_app(ServerSettings(db=shop.db, worker=False))) as test_client:
        assert len(post_batch(test_client, shop, messages).json()["accepted"]) == 5
        over_http = dump(test_client.app)
    other = prepare(tmp_path / "other") if (tmp_path / "other").mkdir() is None else None
    assert other is not None
    lines = tmp_path / "messages.jsonl"
    lines.write_text("\n".join(json.dumps(m) for m in messages) + "\n")
    result = CliRunner().invoke(cli, ["--db", other.db, "ingest", str(lines), "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["stored"], summary["duplicates"]) == (5, 5, 0)
    assert summary["rejected"] == 1
    assert summary["rejected_messages"][0]["line"] == 6
    again = CliRunner().invoke(cli, ["--db", other.db, "ingest", str(lines), "--format", "json"])
    repeated = json.loads(again.stdout)
    assert (repeated["accepted"], repeated["stored"], repeated["duplicates"]) == (5, 0, 5)
    with TestClient(create_app(ServerSettings(db=other.db, worker=False))) as test_client:
        assert dump(test_client.app) == over_http
    assert over_http["order_items"] == [("O", "P", 1, Decimal("9.90"))]
