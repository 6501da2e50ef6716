"""The HTTP SMS channel against the local test gateway; webhook parsing and signatures."""

from __future__ import annotations

import httpx
import pytest

from segmentum.campaigns.channels import OutgoingMessage, channel_from_config, send_many
from segmentum.campaigns.channels.http_sms import (
    DeliveryReceipt,
    HttpSmsChannel,
    InboundReply,
    is_stop_request,
    parse_delivery_receipt,
    parse_inbound_reply,
    sender_for,
    sign_body,
    verify_signature,
)
from tests.campaigns.gateway import TestGateway

ENV = {"SMS_TOKEN": "tok-123"}


def sms(
    key: str = "camp-1:cust-1:sms", to: str = "+420601123456", body: str = "Ahoj €"
) -> OutgoingMessage:
    return OutgoingMessage(idempotency_key=key, channel="sms", to=to, body=body)


def config(gateway: TestGateway, **extra: object) -> dict[str, object]:
    return {
        "type": "http_sms",
        "url": gateway.url,
        "auth_env": "SMS_TOKEN",
        "auth_prefix": "Bearer ",
        "sender_ids": {"CZ": "SHOP", "PL": "SKLEP", "default": "Shop"},
        **extra,
    }


def test_json_post_with_key_auth_and_sender(sms_gateway: TestGateway) -> None:
    channel = channel_from_config(config(sms_gateway), environ=ENV)
    result = channel.send(sms())
    channel.close()
    assert (result.status, result.provider_message_id, result.error) == ("sent", "msg-1", None)
    [request] = sms_gateway.received
    assert request["fields"] == {"to": "+420601123456", "text": "Ahoj €", "sender": "SHOP"}
    assert request["headers"]["idempotency-key"] == "camp-1:cust-1:sms"
    assert request["headers"]["authorization"] == "Bearer tok-123"
    assert request["headers"]["content-type"] == "application/json"
    assert sms_gateway.delivered_keys == ["camp-1:cust-1:sms"]


def test_form_post_with_mapped_fields(sms_gateway: TestGateway) -> None:
    channel = HttpSmsChannel(
        config(
            sms_gateway,
            format="form",
            fields={"to": "msisdn", "text": "message", "sender": "from", "idempotency_key": "ref"},
            extra={"route": "marketing"},
            idempotency_header=None,
        ),
        environ=ENV,
    )
    assert channel.send(sms(to="+48601123456", body="Zażółć")).status == "sent"
    assert channel.send(sms(key="k2", to="+12025550123")).status == "sent"
    channel.close()
    first, second = sms_gateway.received
    assert first["fields"] == {
        "route": "marketing",
        "msisdn": "+48601123456",
        "message": "Zażółć",
        "from": "SKLEP",
        "ref": "camp-1:cust-1:sms",
    }
    assert "idempotency-key" not in first["headers"]
    assert second["fields"]["from"] == "Shop"  # no US entry: the default


def test_resend_is_deduplicated_by_the_gateway(sms_gateway: TestGateway) -> None:
    channel = HttpSmsChannel(config(sms_gateway), environ=ENV)
    results = send_many(channel, [sms(), sms(), sms(key="other")])
    channel.close()
    assert [r.provider_message_id for r in results] == ["msg-1", "msg-1", "msg-2"]
    assert [r["duplicate"] for r in sms_gateway.received] == [False, True, False]
    assert sms_gateway.delivered_keys == ["camp-1:cust-1:sms", "other"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, "temporary_failure"),
        (500, "temporary_failure"),
        (503, "temporary_failure"),
        (400, "permanent_failure"),
        (401, "permanent_failure"),
        (422, "permanent_failure"),
    ],
)
def test_failure_classification(sms_gateway: TestGateway, status: int, expected: str) -> None:
    sms_gateway.fail_next(1, status)
    channel = HttpSmsChannel(config(sms_gateway), environ=ENV)
    result = channel.send(sms())
    retry = channel.send(sms())
    channel.close()
    assert result.status == expected
    assert result.error == f'gateway HTTP {status}: {{"error": "injected failure"}}'
    assert retry.status == "sent"
    assert sms_gateway.delivered_keys == ["camp-1:cust-1:sms"]


def test_timeout_is_temporary(sms_gateway: TestGateway) -> None:
    sms_gateway.delay_next(1, 0.5)
    channel = HttpSmsChannel(config(sms_gateway, timeout=0.1), environ=ENV)
    result = channel.send(sms())
    channel.close()
    assert result.status == "temporary_failure"
    assert result.error is not None
    assert result.error.startswith("gateway timeout")


def test_unreachable_gateway_is_temporary() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    channel = HttpSmsChannel(
        {"url": "http://127.0.0.1:9/sms"}, transport=httpx.MockTransport(refuse)
    )
    result = channel.send(sms())
    channel.close()
    assert (result.status, result.error) == (
        "temporary_failure",
        "gateway unreachable: connection refused",
    )


def test_invalid_phone_is_permanent_and_not_sent(sms_gateway: TestGateway) -> None:
    channel = HttpSmsChannel(config(sms_gateway), environ=ENV)
    assert channel.send(sms(to="12")).status == "permanent_failure"
    assert channel.send(sms(to="+4206")).status == "permanent_failure"
    channel.close()
    assert sms_gateway.received == []


def test_sender_for() -> None:
    ids = {"CZ": "SHOP", "default": "Shop"}
    assert sender_for("+420601123456", ids) == "SHOP"
    assert sender_for("+421901123456", ids) == "Shop"
    assert sender_for("nonsense", ids) == "Shop"
    assert sender_for("+420601123456", {}) is None


def test_parse_delivery_receipt() -> None:
    assert parse_delivery_receipt({"message_id": "msg-1", "status": "DELIVRD"}) == (
        DeliveryReceipt("msg-1", "delivered", "DELIVRD")
    )
    assert parse_delivery_receipt({"id": 7, "state": "UNDELIV"}) == (
        DeliveryReceipt("7", "failed", "UNDELIV")
    )
    assert parse_delivery_receipt({"idempotency_key": "k", "status": "accepted"}).status == (
        "pending"
    )
    receipt = parse_delivery_receipt(
        {"data": {"ref": "k9", "s": "expired"}}, reference_field="data.ref", status_field="data.s"
    )
    reference, status, _raw = receipt
    assert (reference, status) == ("k9", "failed")
    with pytest.raises(ValueError, match="needs a message reference"):
        parse_delivery_receipt({"status": "delivered"})


def test_parse_inbound_reply() -> None:
    assert parse_inbound_reply({"from": "420601123456", "text": "STOP"}) == InboundReply(
        "+420601123456", "STOP"
    )
    assert parse_inbound_reply({"msisdn": "+48 601 123 456", "message": "Tak"}) == (
        InboundReply("+48601123456", "Tak")
    )
    with pytest.raises(ValueError, match="needs a sender"):
        parse_inbound_reply({"text": "hi"})
    assert is_stop_request(" stop! ")
    assert is_stop_request("Stop all")
    assert not is_stop_request("don't stop")


def test_verify_signature() -> None:
    body = b'{"message_id":"msg-1","status":"DELIVRD"}'
    header = sign_body("shared", body)
    assert header.startswith("sha256=")
    assert len(header) == len("sha256=") + 64
    assert verify_signature("shared", body, header)
    assert verify_signature(b"shared", body, header.removeprefix("sha256=").upper())
    assert not verify_signature("other", body, header)
    assert not verify_signature("shared", body + b" ", header)
    assert not verify_signature("shared", body, None)
    assert not verify_signature("shared", body, "sha256=zz")
