"""The catalog of one workspace: the core tables extended by its declarations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from segmentum.catalog.events import BUILTIN_EVENT_TYPES, EventType
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.tables import CORE_TABLES, Column, Table
from segmentum.catalog.types import ValueType


@dataclass(frozen=True)
class Catalog:
    """Tables with every custom attribute and event property as a typed column."""

    tables: Mapping[str, Table]
    event_types: Mapping[str, EventType]
    timezone: str
    currency: str

    def table(self, name: str) -> Table:
        return self.tables[name]

    @property
    def event_property_types(self) -> dict[str, ValueType]:
        return {
            prop: prop_type
            for event_type in self.event_types.values()
            for prop, prop_type in event_type.properties.items()
        }


def _extended(table: Table, extra: Mapping[str, ValueType]) -> Table:
    added = tuple(
        Column(name, value_type, description="custom attribute")
        for name, value_type in sorted(extra.items())
    )
    return replace(table, columns=table.columns + added)


def build_catalog(settings: WorkspaceSettings) -> Catalog:
    event_types = {event_type.name: event_type for event_type in BUILTIN_EVENT_TYPES}
    for name, declaration in settings.event_types.items():
        event_types[name] = EventType(name, dict(declaration.properties), declaration.description)
    property_types: dict[str, ValueType] = {}
    for event_type in event_types.values():
        property_types.update(event_type.properties)
    tables: dict[str, Table] = {}
    for table in CORE_TABLES:
        if table.name == "customers":
            table = _extended(table, settings.customer_attributes)
        elif table.name == "products":
            table = _extended(table, settings.product_attributes)
        elif table.name == "events":
            table = _extended(table, property_types)
        tables[table.name] = table
    return Catalog(
        tables=tables,
        event_types=event_types,
        timezone=settings.timezone,
        currency=settings.currency,
    )
