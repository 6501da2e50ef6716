"""The workspace's delivery channels, built from its settings and closed after use: one
place for campaigns, test sends and automations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from segmentum.campaigns.channels.base import ChannelConfigError, channel_from_config
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace


def open_channels(ws: Workspace) -> dict[str, Any]:
    """Every configured channel; a configuration that cannot work is one ``ServiceError``
    naming the channel (before anything is sent: a worker does not start half-equipped)."""
    channels: dict[str, Any] = {}
    for name, config in ws.settings.channels.items():
        try:
            channels[name] = channel_from_config(dict(config))
        except ChannelConfigError as problem:  # e.g. a secret's variable not set here
            close_channels(channels.values())
            raise ServiceError(f"channel {name}: {problem}") from None
    return channels


def close_channels(channels: Iterable[Any]) -> None:
    for channel in channels:
        close = getattr(channel, "close", None)
        if callable(close):
            close()
