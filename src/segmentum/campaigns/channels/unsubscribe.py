"""Signed one-click unsubscribe tokens (RFC 8058 links carry them).

A token is ``<payload>.<signature>``: the payload is the base64url of
``customer_id \\n channel \\n campaign_id``, the signature the base64url of its HMAC-SHA256
under the workspace secret. Nothing is stored; `verify_unsubscribe_token` recomputes the
HMAC and compares in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class UnsubscribeRequest:
    customer_id: str
    channel: str
    campaign_id: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def unsubscribe_token(
    secret: str | bytes, customer_id: str, channel: str, campaign_id: str | None = None
) -> str:
    if "\n" in customer_id or "\n" in channel or (campaign_id and "\n" in campaign_id):
        raise ValueError("identifiers in an unsubscribe token may not contain newlines")
    payload = f"{customer_id}\n{channel}\n{campaign_id or ''}".encode()
    signature = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def verify_unsubscribe_token(secret: str | bytes, token: str) -> UnsubscribeRequest | None:
    """The request a token stands for, or None when it is malformed or not signed by `secret`."""
    encoded, _, signature = token.strip().partition(".")
    try:
        payload = _unb64(encoded)
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        return None
    expected = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        return None
    try:
        customer_id, channel, campaign_id = payload.decode("utf-8").split("\n")
    except (UnicodeDecodeError, ValueError):
        return None
    return UnsubscribeRequest(customer_id, channel, campaign_id or None)
