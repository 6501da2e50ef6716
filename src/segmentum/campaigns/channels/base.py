"""What every channel shares: the outgoing message, the send result and the `Channel` protocol.

A channel delivers one rendered message to one provider and says how it went; it never
retries (the worker owns backoff) and never decides who may receive what (the policy gate
does). Delivery is at-least-once: the ledger row and its idempotency key exist before the
provider is called, so after a crash a message may be sent again with the same key. Each
channel hands that key to the provider in the provider's own way (an HTTP header, a stable
e-mail Message-ID, a web-push Topic) so a provider or a mailbox can recognise the resend.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast, runtime_checkable

import pyarrow as pa

ChannelName = Literal["sms", "email", "web_push"]
SendStatus = Literal["sent", "temporary_failure", "permanent_failure"]


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str
    channel: ChannelName
    #: A phone in E.164 (sms), an address (email) or a push subscription's JSON (web_push).
    to: str
    body: str
    #: E-mail subject; the notification title for web push.
    subject: str | None = None
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Free-form strings; channels read ``customer_id``, ``campaign_id`` and (web push) ``url``.
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    provider_message_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "sent"


@runtime_checkable
class Channel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...

    def close(self) -> None: ...


class ChannelConfigError(ValueError):
    """A channel configuration that cannot work (missing key, unknown type, missing env var)."""


def send_many(channel: Channel, messages: Iterable[OutgoingMessage]) -> list[SendResult]:
    """Send in order; a channel with its own `send_many` (the outbox) batches.

    One at a time, a message whose send raises gets a temporary failure of its own and the
    others keep their answers: a batch answered as one failure after some of it went out
    would be sent again, those messages included."""
    batch = getattr(channel, "send_many", None)
    if callable(batch):
        results: list[SendResult] = batch(list(messages))
        return results
    return [_send_one(channel, message) for message in messages]


def _send_one(channel: Channel, message: OutgoingMessage) -> SendResult:
    try:
        return channel.send(message)
    except Exception as failure:  # a provider crash on one message
        return SendResult("temporary_failure", error=f"{type(failure).__name__}: {failure}")


#: A batch of messages as Arrow (`send_table`): these `OutgoingMessage` fields, then one
#: string column per metadata key (a null there: that message has no such key). Batches carry
#: no headers.
MESSAGE_FIELDS = ("idempotency_key", "channel", "to", "body", "subject", "html")
#: The answers to a batch, one row per message in order: `SendResult` as columns.
ANSWER_SCHEMA = pa.schema(
    [("status", pa.string()), ("provider_message_id", pa.string()), ("error", pa.string())]
)


def messages_from_table(table: pa.Table) -> list[OutgoingMessage]:
    """The batch as `OutgoingMessage` objects, for channels that send one at a time."""
    fields = {name: table.column(name).to_pylist() for name in MESSAGE_FIELDS}
    metadata_names = [name for name in table.column_names if name not in MESSAGE_FIELDS]
    metadata_values = [table.column(name).to_pylist() for name in metadata_names]
    messages = []
    for index, key in enumerate(fields["idempotency_key"]):
        metadata = {
            name: values[index]
            for name, values in zip(metadata_names, metadata_values, strict=True)
            if values[index] is not None
        }
        messages.append(
            OutgoingMessage(
                idempotency_key=key,
                channel=cast(ChannelName, fields["channel"][index]),
                to=fields["to"][index],
                body=fields["body"][index],
                subject=fields["subject"][index],
                html=fields["html"][index],
                metadata=metadata,
            )
        )
    return messages


def answers_table(results: Iterable[SendResult]) -> pa.Table:
    rows = list(results)
    return pa.table(
        {
            "status": pa.array([r.status for r in rows], pa.string()),
            "provider_message_id": pa.array([r.provider_message_id for r in rows], pa.string()),
            "error": pa.array([r.error for r in rows], pa.string()),
        },
        schema=ANSWER_SCHEMA,
    )


def send_table(channel: Channel, messages: pa.Table) -> pa.Table:
    """Send a batch given as Arrow; a channel with its own `send_table` (the outbox) takes it
    column-wise, any other gets `OutgoingMessage` objects through `send_many`."""
    batch = getattr(channel, "send_table", None)
    if callable(batch):
        answers: pa.Table = batch(messages)
        return answers
    return answers_table(send_many(channel, messages_from_table(messages)))


def env_secret(
    config: Mapping[str, Any], key: str, environ: Mapping[str, str] | None = None
) -> str | None:
    """The value of the environment variable named by ``config[key]`` (None if not configured).

    Secrets never sit in configuration files, only the names of the variables that hold them.
    """
    name = config.get(key)
    if name is None:
        return None
    env = os.environ if environ is None else environ
    value = env.get(str(name))
    if value is None:
        raise ChannelConfigError(f"{key}: environment variable {name!r} is not set")
    return value


def channel_from_config(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Channel:
    """Build a channel from ``{"type": "smtp" | "http_sms" | "web_push" | "outbox", ...}``."""
    kind = config.get("type")
    if kind == "smtp":
        from segmentum.campaigns.channels.smtp import SmtpChannel

        return SmtpChannel(config, environ=environ)
    if kind == "http_sms":
        from segmentum.campaigns.channels.http_sms import HttpSmsChannel

        return HttpSmsChannel(config, environ=environ)
    if kind == "web_push":
        from segmentum.campaigns.channels.web_push import WebPushChannel

        return WebPushChannel(config, environ=environ)
    if kind == "outbox":
        from segmentum.campaigns.channels.outbox import OutboxChannel

        return OutboxChannel(config)
    raise ChannelConfigError(
        f"unknown channel type {kind!r}; expected smtp, http_sms, web_push or outbox"
    )
