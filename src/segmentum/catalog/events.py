"""Event types: the built-in ones and their declared, typed properties.

Properties are stored as typed columns of the ``events`` table (one column per property name
across all types), so segment filters on them compile to plain column comparisons on every
engine instead of engine-specific JSON extraction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from segmentum.catalog.types import ValueType

T = ValueType


@dataclass(frozen=True)
class EventType:
    name: str
    properties: Mapping[str, ValueType]
    description: str = ""


MESSAGE_EVENT_TYPES: tuple[str, ...] = (
    "message_sent",
    "message_delivered",
    "message_failed",
    "message_opened",
    "message_clicked",
    "message_replied",
    "message_unsubscribed",
)

_MESSAGE_PROPERTIES: Mapping[str, ValueType] = {"campaign_id": T.TEXT, "channel": T.TEXT}

BUILTIN_EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        "cart_updated",
        {"cart_id": T.TEXT, "items": T.JSON, "value": T.MONEY, "product_id": T.TEXT},
        "A cart was created or changed; product_id names the first or only product.",
    ),
    EventType("checkout_started", {"cart_id": T.TEXT, "value": T.MONEY}),
    EventType("product_inquiry", {"product_id": T.TEXT, "channel": T.TEXT}),
    EventType("support_ticket", {"ticket_id": T.TEXT, "topic": T.TEXT, "channel": T.TEXT}),
    EventType("survey_sent", {"survey_id": T.TEXT}),
    EventType("survey_response", {"survey_id": T.TEXT, "csat": T.INTEGER, "nps": T.INTEGER}),
    *(EventType(name, _MESSAGE_PROPERTIES) for name in MESSAGE_EVENT_TYPES),
    EventType("page_view", {"url": T.TEXT, "product_id": T.TEXT}),
)

#: Names that are events-table columns already and cannot be property names.
RESERVED_PROPERTY_NAMES: frozenset[str] = frozenset(
    {"event_id", "customer_id", "type", "occurred_at", "properties", "local_date"}
)
