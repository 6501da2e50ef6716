"""SMS through an HTTP gateway (httpx): JSON or form POST, idempotency key, sender per country.

Configuration::

    type: http_sms
    url: https://sms.example.net/v1/messages
    format: json                    # json | form
    fields:                         # the provider's names for our values (null leaves one out)
      to: to
      text: text
      sender: from
      idempotency_key: null         # also send the key in the body under this name
    extra: {route: marketing}       # constant fields added to every request
    auth_header: Authorization
    auth_env: SMS_GATEWAY_TOKEN     # the header's value is read from this variable
    auth_prefix: "Bearer "
    idempotency_header: Idempotency-Key
    message_id_field: id            # dotted path of the provider's id in the JSON answer
    sender_ids: {CZ: SHOP, default: Shop}
    timeout: 10

The sender id is chosen by the recipient's country (``phonenumbers``); a country without an
entry uses ``default``; with no entry at all no sender field is sent. Nothing here retries:
429, 5xx, timeouts and connection errors are ``temporary_failure`` for the worker's backoff;
any other 4xx (and an unparsable number) is ``permanent_failure``.

Webhooks: `parse_delivery_receipt`, `parse_inbound_reply` and `verify_signature` (HMAC-SHA256
of the raw body with the provider's shared secret, compared in constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import httpx
import phonenumbers

from segmentum.campaigns.channels.base import (
    ChannelConfigError,
    OutgoingMessage,
    SendResult,
    env_secret,
)

DEFAULT_FIELDS: dict[str, str | None] = {
    "to": "to",
    "text": "text",
    "sender": "sender",
    "idempotency_key": None,
}


def sender_for(phone: str, sender_ids: Mapping[str, str]) -> str | None:
    """The sender id for an E.164 number: its country's entry, else ``default``, else None."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        region = None
    if region and region in sender_ids:
        return sender_ids[region]
    return sender_ids.get("default")


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


class HttpSmsChannel:
    name = "http_sms"

    def __init__(
        self,
        config: Mapping[str, Any],
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        if not config.get("url"):
            raise ChannelConfigError("http_sms: 'url' is required")
        self.url = str(config["url"])
        self.format = str(config.get("format", "json"))
        if self.format not in ("json", "form"):
            raise ChannelConfigError("http_sms: format must be json or form")
        fields = dict(DEFAULT_FIELDS)
        fields.update(config.get("fields") or {})
        self.fields = fields
        self.extra: dict[str, Any] = dict(config.get("extra") or {})
        self.idempotency_header = config.get("idempotency_header", "Idempotency-Key")
        self.message_id_field = str(config.get("message_id_field", "id"))
        self.sender_ids: dict[str, str] = {
            str(key): str(value) for key, value in (config.get("sender_ids") or {}).items()
        }
        headers: dict[str, str] = {}
        token = env_secret(config, "auth_env", environ)
        if token is not None:
            header = str(config.get("auth_header", "Authorization"))
            headers[header] = f"{config.get('auth_prefix', '')}{token}"
        self._client = httpx.Client(
            headers=headers,
            timeout=float(config.get("timeout", 10)),
            transport=transport,
            follow_redirects=False,
        )
        self._lock = threading.Lock()

    def request_body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The fields posted for one message (the provider's names)."""
        body = dict(self.extra)
        values = {
            "to": message.to,
            "text": message.body,
            "sender": sender_for(message.to, self.sender_ids),
            "idempotency_key": message.idempotency_key,
        }
        for ours, theirs in self.fields.items():
            value = values.get(ours)
            if theirs and value is not None:
                body[theirs] = value
        return body

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            number = phonenumbers.parse(message.to, None)
        except phonenumbers.NumberParseException as error:
            return SendResult("permanent_failure", error=f"invalid phone {message.to!r}: {error}")
        if not phonenumbers.is_possible_number(number):
            return SendResult("permanent_failure", error=f"impossible phone {message.to!r}")
        body = self.request_body(message)
        headers = {}
        if self.idempotency_header:
            headers[str(self.idempotency_header)] = message.idempotency_key
        try:
            with self._lock:
                if self.format == "json":
                    response = self._client.post(self.url, json=body, headers=headers)
                else:
                    response = self._client.post(self.url, data=body, headers=headers)
        except httpx.TimeoutException as error:
            return SendResult("temporary_failure", error=f"gateway timeout: {error}")
        except httpx.HTTPError as error:
            return SendResult("temporary_failure", error=f"gateway unreachable: {error}")
        status = response.status_code
        if 200 <= status < 300:
            provider_id: Any = None
            try:
                provider_id = _dig(response.json(), self.message_id_field)
            except ValueError:
                provider_id = None
            return SendResult(
                "sent", provider_message_id=None if provider_id is None else str(provider_id)
            )
        detail = f"gateway HTTP {status}: {response.text[:200]}"
        if status == 429 or status >= 500:
            return SendResult("temporary_failure", error=detail)
        return SendResult("permanent_failure", error=detail)

    def close(self) -> None:
        self._client.close()


# --- webhooks ---------------------------------------------------------------------------------

DeliveryStatus = Literal["delivered", "failed", "pending"]

_DELIVERED = frozenset({"delivered", "delivrd", "delivered_to_handset", "success", "ok"})
_FAILED = frozenset(
    {"failed", "undeliv", "undelivered", "rejectd", "rejected", "expired", "error", "deleted"}
)
_REFERENCE_FIELDS = ("message_id", "messageId", "id", "idempotency_key", "reference")
_STATUS_FIELDS = ("status", "state", "stat")
_FROM_FIELDS = ("from", "msisdn", "sender", "phone")
_TEXT_FIELDS = ("text", "body", "message")


class DeliveryReceipt(NamedTuple):
    reference: str
    status: DeliveryStatus
    raw_status: str


class InboundReply(NamedTuple):
    from_phone: str
    text: str


def _first(payload: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = payload.get(name)
        if value not in (None, ""):
            return value
    return None


def parse_delivery_receipt(
    payload: Mapping[str, Any], reference_field: str | None = None, status_field: str | None = None
) -> DeliveryReceipt:
    """(provider message id or idempotency key, delivered | failed | pending) from a receipt.

    Field names default to the usual ones (``message_id``, ``id``, ``idempotency_key``;
    ``status``); SMPP-style states (DELIVRD, UNDELIV, REJECTD, EXPIRED) are understood.
    Raises ValueError when the payload has no reference or no status.
    """
    reference = (
        _dig(payload, reference_field) if reference_field else _first(payload, _REFERENCE_FIELDS)
    )
    raw = _dig(payload, status_field) if status_field else _first(payload, _STATUS_FIELDS)
    if reference is None or raw is None:
        raise ValueError("delivery receipt needs a message reference and a status")
    key = str(raw).strip().lower()
    status: DeliveryStatus = (
        "delivered" if key in _DELIVERED else "failed" if key in _FAILED else "pending"
    )
    return DeliveryReceipt(str(reference), status, str(raw))


def parse_inbound_reply(payload: Mapping[str, Any]) -> InboundReply:
    """(sender phone in E.164, text) of an inbound SMS; raises ValueError when incomplete."""
    phone = _first(payload, _FROM_FIELDS)
    text = _first(payload, _TEXT_FIELDS)
    if phone is None or text is None:
        raise ValueError("inbound reply needs a sender and a text")
    number = str(phone).strip()
    if not number.startswith("+") and number.isdigit():
        number = "+" + number
    try:
        parsed = phonenumbers.parse(number, None)
        number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"inbound reply from an invalid number {phone!r}") from error
    return InboundReply(number, str(text))


STOP_WORDS = frozenset({"stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit"})


def is_stop_request(text: str) -> bool:
    """Whether a reply asks to stop (STOP, UNSUBSCRIBE, CANCEL, END, QUIT; any case)."""
    return " ".join(text.strip().lower().split()).rstrip(".!") in STOP_WORDS


def sign_body(secret: str | bytes, body: bytes) -> str:
    """``sha256=<hex>``: what a provider sends and `verify_signature` accepts."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, signature_header: str | None) -> bool:
    """Whether `signature_header` (``sha256=<hex>`` or bare hex) is the HMAC-SHA256 of the raw
    body under `secret`; constant-time. A missing header is False."""
    if not signature_header:
        return False
    given = signature_header.strip()
    if given.lower().startswith("sha256="):
        given = given[len("sha256=") :]
    expected = sign_body(secret, body)[len("sha256=") :]
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii", "replace"))
