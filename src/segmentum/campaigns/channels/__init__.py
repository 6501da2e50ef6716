"""Delivery channels: SMTP e-mail, an HTTP SMS gateway, web push and a file outbox."""

from segmentum.campaigns.channels.base import (
    Channel,
    ChannelConfigError,
    OutgoingMessage,
    SendResult,
    channel_from_config,
    send_many,
)

__all__ = [
    "Channel",
    "ChannelConfigError",
    "OutgoingMessage",
    "SendResult",
    "channel_from_config",
    "send_many",
]
