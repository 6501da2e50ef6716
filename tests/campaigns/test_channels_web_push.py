"""Web push to a local endpoint: the test decrypts the payload (RFC 8291) and checks VAPID."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from segmentum.campaigns.channels import OutgoingMessage, channel_from_config
from segmentum.campaigns.channels.web_push import (
    WebPushChannel,
    b64url,
    b64url_decode,
    generate_vapid_keys,
    load_vapid_key,
    public_key_bytes,
    topic_for,
)


class PushEndpoint:
    """A push service stand-in: records requests, answers 201 (or a queued status)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                status = endpoint.statuses.pop(0) if endpoint.statuses else 201
                self.send_response(status)
                self.send_header("Location", f"/messages/{len(endpoint.requests)}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def push_endpoint() -> Iterator[PushEndpoint]:
    endpoint = PushEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.stop()


class Browser:
    """The subscriber: a P-256 key pair and an auth secret, as a browser makes them."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = endpoint

    def subscription(self) -> str:
        keys = {"p256dh": b64url(public_key_bytes(self.key)), "auth": b64url(self.auth)}
        return json.dumps({"endpoint": self.endpoint, "keys": keys})

    def decrypt(self, body: bytes) -> Any:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def verify_vapid(header: str, public_key_b64: str) -> dict[str, Any]:
    """Check the ES256 signature of the VAPID JWT with the `k=` key; return its claims."""
    assert header.startswith("vapid t=")
    token_part, key_part = header.removeprefix("vapid ").split(", ")
    token = token_part.removeprefix("t=")
    key_text = key_part.removeprefix("k=")
    assert key_text == public_key_b64
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key_text))
    head, claims, signature = token.split(".")
    raw = b64url_decode(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    assert json.loads(b64url_decode(head)) == {"typ": "JWT", "alg": "ES256"}
    decoded: dict[str, Any] = json.loads(b64url_decode(claims))
    return decoded


def push(browser: Browser, **changes: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "idempotency_key": "camp-3:cust-9:web_push",
        "channel": "web_push",
        "to": browser.subscription(),
        "subject": "Jarní výprodej",
        "body": "Скидки до −30 % 🎉",
        "metadata": {"url": "https://shop.example/sale", "customer_id": "cust-9"},
    }
    values.update(changes)
    return OutgoingMessage(**values)


def test_push_is_encrypted_and_vapid_signed(push_endpoint: PushEndpoint) -> None:
    private, public = generate_vapid_keys()
    browser = Browser(f"{push_endpoint.origin}/push/sub-1")
    channel = channel_from_config(
        {
            "type": "web_push",
            "vapid_private_key_env": "VAPID",
            "subject": "mailto:ops@shop.example",
            "ttl": 3600,
        },
        environ={"VAPID": private},
    )
    assert isinstance(channel, WebPushChannel)
    assert channel.public_key == public
    before = int(time.time())
    result = channel.send(push(browser))
    channel.close()
    assert (result.status, result.provider_message_id) == ("sent", "/messages/1")
    [request] = push_endpoint.requests
    assert request["path"] == "/push/sub-1"
    headers = request["headers"]
    assert headers["Content-Encoding"] == "aes128gcm"
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["TTL"] == "3600"
    assert headers["Urgency"] == "normal"
    assert headers["Topic"] == topic_for("camp-3:cust-9:web_push")
    assert len(headers["Topic"]) == 32
    assert browser.decrypt(request["body"]) == {
        "title": "Jarní výprodej",
        "body": "Скидки до −30 % 🎉",
        "url": "https://shop.example/sale",
    }
    claims = verify_vapid(headers["Authorization"], public)
    assert claims["aud"] == push_endpoint.origin
    assert claims["sub"] == "mailto:ops@shop.example"
    assert before < claims["exp"] <= int(time.time()) + 24 * 3600


def test_a_forged_vapid_token_fails_verification(push_endpoint: PushEndpoint) -> None:
    private, _ = generate_vapid_keys()
    _, other_public = generate_vapid_keys()
    browser = Browser(f"{push_endpoint.origin}/push/sub-1")
    channel = WebPushChannel(
        {"vapid_private_key_env": "VAPID", "subject": "mailto:ops@shop.example"},
        environ={"VAPID": private},
    )
    channel.send(push(browser))
    channel.close()
    header = push_endpoint.requests[0]["headers"]["Authorization"]
    forged = header.rsplit("k=", 1)[0] + "k=" + other_public
    with pytest.raises(InvalidSignature):
        verify_vapid(forged, other_public)


def test_pem_key_file(push_endpoint: PushEndpoint, tmp_path: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "vapid.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    channel = WebPushChannel(
        {"vapid_private_key_path": str(path), "subject": "https://shop.example/contact"}
    )
    assert channel.public_key == b64url(public_key_bytes(key))
    browser = Browser(f"{push_endpoint.origin}/p")
    assert channel.send(push(browser)).status == "sent"
    channel.close()
    verify_vapid(push_endpoint.requests[0]["headers"]["Authorization"], channel.public_key)


@pytest.mark.parametrize(
    ("status", "expected", "error"),
    [
        (410, "permanent_failure", "subscription gone (HTTP 410)"),
        (404, "permanent_failure", "subscription gone (HTTP 404)"),
        (429, "temporary_failure", "push service HTTP 429: "),
        (502, "temporary_failure", "push service HTTP 502: "),
        (400, "permanent_failure", "push service HTTP 400: "),
    ],
)
def test_push_failures(push_endpoint: PushEndpoint, status: int, expected: str, error: str) -> None:
    private, _ = generate_vapid_keys()
    push_endpoint.statuses.append(status)
    channel = WebPushChannel(
        {"vapid_private_key_env": "V", "subject": "mailto:a@b.example"}, environ={"V": private}
    )
    result = channel.send(push(Browser(f"{push_endpoint.origin}/p")))
    channel.close()
    assert (result.status, result.error) == (expected, error)


def test_bad_subscription_is_permanent() -> None:
    private, _ = generate_vapid_keys()
    channel = WebPushChannel(
        {"vapid_private_key_env": "V", "subject": "mailto:a@b.example"}, environ={"V": private}
    )
    for to in ("not json", json.dumps({"endpoint": "https://x.example/p", "keys": {}})):
        result = channel.send(push(Browser("https://x.example/p"), to=to))
        assert result.status == "permanent_failure"
        assert result.error is not None
        assert result.error.startswith("not a push subscription")
    oversized = channel.send(push(Browser("https://x.example/p"), body="x" * 4000))
    assert oversized.status == "permanent_failure"
    channel.close()


def test_raw_key_round_trip() -> None:
    private, public = generate_vapid_keys()
    key = load_vapid_key(private)
    assert b64url(public_key_bytes(key)) == public
    assert len(base64.urlsafe_b64decode(public + "=")) == 65
