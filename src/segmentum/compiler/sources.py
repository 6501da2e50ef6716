"""Activity sources and their fields, from the catalog (no Ibis here).

A source name is ``orders``, ``order_items``, ``returns`` or an event type. Each reads one
*relation* (orders, order_items, returns, events); every event type shares the events relation,
so all event features are one scan of ``events``.
"""

from __future__ import annotations

from dataclasses import dataclass

from segmentum.catalog.schema import Catalog
from segmentum.catalog.types import ValueType

PRODUCT_PREFIX = "product."
#: order_items' virtual field ``value = quantity × unit_price``.
ITEM_VALUE = "value"
TABLE_SOURCES = ("orders", "order_items", "returns")
#: Every non-cancelled order and every event, as one stream (customer, instant, local_date).
INTERACTIONS = "interactions"


@dataclass(frozen=True)
class SourceInfo:
    relation: str  # orders | order_items | returns | events | interactions
    event_type: str | None  # the events.type value for an event source
    fields: dict[str, ValueType]


def _product_fields(catalog: Catalog) -> dict[str, ValueType]:
    return {
        PRODUCT_PREFIX + column.name: column.type
        for column in catalog.table("products").columns
        if column.name != "product_id"
    }


def source_info(catalog: Catalog, source: str) -> SourceInfo | None:
    """The source's relation and typed fields; None for an unknown source."""
    if source in ("orders", "returns"):
        fields = {column.name: column.type for column in catalog.table(source).columns}
        if source == "returns":
            fields.update(_product_fields(catalog))
        return SourceInfo(source, None, fields)
    if source == "order_items":
        fields = {column.name: column.type for column in catalog.table("order_items").columns}
        fields[ITEM_VALUE] = ValueType.MONEY
        fields.update(_product_fields(catalog))
        return SourceInfo("order_items", None, fields)
    if source == INTERACTIONS:
        return SourceInfo(INTERACTIONS, None, {})
    event_type = catalog.event_types.get(source)
    if event_type is None:
        return None
    fields = dict(event_type.properties)
    if "product_id" in fields:
        fields.update(_product_fields(catalog))
    return SourceInfo("events", source, fields)
