"""Web push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291/8188).

`message.to` is the browser's push subscription as JSON
(``{"endpoint": …, "keys": {"p256dh": …, "auth": …}}``). The payload is a JSON object
``{"title": subject, "body": body, "url": …, "icon": …, "tag": …, "image": …}`` (the last four
from ``message.metadata`` when present), encrypted with `http_ece` for the subscription's key;
the VAPID JWT (ES256; ``aud`` = the endpoint's origin, ``exp`` 12 hours ahead, ``sub`` the
configured contact) is signed here with `cryptography`.

Configuration::

    type: web_push
    vapid_private_key_env: VAPID_PRIVATE_KEY   # base64url raw 32-byte key, or PEM
    vapid_private_key_path: /etc/segmentum/vapid.pem   # alternative: a PEM file
    subject: mailto:ops@shop.example
    ttl: 86400
    urgency: normal                 # very-low | low | normal | high
    timeout: 10

The idempotency key becomes the ``Topic`` header (a 32-character hash): a resend after a crash
replaces the first message while it is still queued at the push service. 201/202 is sent;
404 and 410 mean the subscription is gone (``permanent_failure``, error "subscription gone");
429 and 5xx are temporary; other 4xx permanent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import http_ece  # type: ignore[import-untyped]
import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from segmentum.campaigns.channels.base import (
    ChannelConfigError,
    OutgoingMessage,
    SendResult,
    env_secret,
)

VAPID_LIFETIME_SECONDS = 12 * 3600
PAYLOAD_METADATA = ("url", "icon", "tag", "image")
#: RFC 8291: 4096-byte records; one record holds at most 4096 - 16 (tag) - 1 (delimiter).
MAX_PAYLOAD_BYTES = 3993


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_vapid_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM or from base64url of the raw 32-byte scalar."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ChannelConfigError("web_push: the VAPID key must be an EC P-256 key")
        return key
    raw = b64url_decode(text)
    if len(raw) != 32:
        raise ChannelConfigError("web_push: a raw VAPID private key is 32 bytes (base64url)")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def public_key_bytes(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed point (65 bytes): the ``applicationServerKey`` browsers subscribe with."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def generate_vapid_keys() -> tuple[str, str]:
    """(private, public) as base64url: the private key for the config's environment variable,
    the public key for the web page's ``applicationServerKey``."""
    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(scalar), b64url(public_key_bytes(key))


def vapid_token(
    key: ec.EllipticCurvePrivateKey, endpoint: str, subject: str, expires_at: int
) -> str:
    """The VAPID JWT (ES256, raw r||s signature) for an endpoint's origin."""
    parts = urlsplit(endpoint)
    header = {"typ": "JWT", "alg": "ES256"}
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": expires_at, "sub": subject}
    signing_input = ".".join(
        b64url(json.dumps(item, separators=(",", ":")).encode("utf-8")) for item in (header, claims)
    )
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def topic_for(idempotency_key: str) -> str:
    """A Topic header value (32 URL-safe base64 characters) derived from the key."""
    return b64url(hashlib.sha256(idempotency_key.encode("utf-8")).digest()[:24])


def parse_subscription(text: str) -> tuple[str, bytes, bytes]:
    """(endpoint, p256dh public key, auth secret) from a subscription's JSON."""
    try:
        data = json.loads(text)
        endpoint = str(data["endpoint"])
        p256dh = b64url_decode(str(data["keys"]["p256dh"]))
        auth = b64url_decode(str(data["keys"]["auth"]))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"not a push subscription: {error}") from error
    if not endpoint.startswith("https://") and not endpoint.startswith("http://"):
        raise ValueError("push subscription endpoint is not an http(s) URL")
    if len(p256dh) != 65 or len(auth) != 16:
        raise ValueError("push subscription keys have the wrong length")
    return endpoint, p256dh, auth


def encrypt_payload(payload: bytes, p256dh: bytes, auth: bytes) -> bytes:
    """aes128gcm content (RFC 8291): a fresh sender key pair and salt per message."""
    sender = ec.generate_private_key(ec.SECP256R1())
    encrypted: bytes = http_ece.encrypt(
        payload,
        salt=os.urandom(16),
        private_key=sender,
        dh=p256dh,
        auth_secret=auth,
        version="aes128gcm",
    )
    return encrypted


class WebPushChannel:
    name = "web_push"

    def __init__(
        self,
        config: Mapping[str, Any],
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ):
        text = env_secret(config, "vapid_private_key_env", environ)
        if text is None and config.get("vapid_private_key_path"):
            text = Path(str(config["vapid_private_key_path"])).read_text(encoding="ascii")
        if not text:
            raise ChannelConfigError(
                "web_push: vapid_private_key_env or vapid_private_key_path is required"
            )
        self._key = load_vapid_key(text)
        self.public_key = b64url(public_key_bytes(self._key))
        subject = str(config.get("subject", ""))
        if not subject.startswith(("mailto:", "https://")):
            raise ChannelConfigError("web_push: subject must be a mailto: or https: URL")
        self.subject = subject
        self.ttl = int(config.get("ttl", 86_400))
        self.urgency = str(config.get("urgency", "normal"))
        if self.urgency not in ("very-low", "low", "normal", "high"):
            raise ChannelConfigError("web_push: urgency must be very-low, low, normal or high")
        self._clock = clock
        self._client = httpx.Client(
            timeout=float(config.get("timeout", 10)), transport=transport, follow_redirects=False
        )
        self._lock = threading.Lock()

    def payload(self, message: OutgoingMessage) -> bytes:
        data: dict[str, str] = {"title": message.subject or "", "body": message.body}
        for key in PAYLOAD_METADATA:
            if key in message.metadata:
                data[key] = message.metadata[key]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            endpoint, p256dh, auth = parse_subscription(message.to)
        except ValueError as error:
            return SendResult("permanent_failure", error=str(error))
        payload = self.payload(message)
        if len(payload) > MAX_PAYLOAD_BYTES:
            return SendResult(
                "permanent_failure", error=f"payload of {len(payload)} bytes exceeds 3993"
            )
        try:
            body = encrypt_payload(payload, p256dh, auth)
        except Exception as error:
            return SendResult(
                "permanent_failure", error=f"cannot encrypt for subscription: {error}"
            )
        expires = int(self._clock()) + VAPID_LIFETIME_SECONDS
        token = vapid_token(self._key, endpoint, self.subject, expires)
        headers = {
            "Authorization": f"vapid t={token}, k={self.public_key}",
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self.ttl),
            "Urgency": self.urgency,
            "Topic": topic_for(message.idempotency_key),
        }
        try:
            with self._lock:
                response = self._client.post(endpoint, content=body, headers=headers)
        except httpx.TimeoutException as error:
            return SendResult("temporary_failure", error=f"push service timeout: {error}")
        except httpx.HTTPError as error:
            return SendResult("temporary_failure", error=f"push service unreachable: {error}")
        status = response.status_code
        if status in (200, 201, 202):
            return SendResult("sent", provider_message_id=response.headers.get("Location"))
        if status in (404, 410):
            return SendResult("permanent_failure", error=f"subscription gone (HTTP {status})")
        detail = f"push service HTTP {status}: {response.text[:200]}"
        if status == 429 or status >= 500:
            return SendResult("temporary_failure", error=detail)
        return SendResult("permanent_failure", error=detail)

    def close(self) -> None:
        self._client.close()
