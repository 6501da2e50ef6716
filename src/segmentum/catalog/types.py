"""The value types a catalog column, custom attribute or event property can have."""

from __future__ import annotations

from enum import StrEnum


class ValueType(StrEnum):
    """A column's logical type; every layer (ingest, compiler, engines) maps from this one."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"  # float64: ratings, scores; never money
    MONEY = "money"  # DECIMAL(18,2) major units, so sums are identical on every engine
    BOOL = "bool"
    DATE = "date"
    TIMESTAMP = "timestamp"  # an instant, stored as UTC without zone
    TEXT_LIST = "text_list"  # tags and list-valued custom attributes
    JSON = "json"  # opaque JSON text kept for completeness (e.g. cart items)

    @property
    def is_numeric(self) -> bool:
        return self in (ValueType.INTEGER, ValueType.NUMBER, ValueType.MONEY)

    @property
    def is_temporal(self) -> bool:
        return self in (ValueType.DATE, ValueType.TIMESTAMP)


#: Custom attributes may be declared with these types only (the issue's list).
CUSTOM_ATTRIBUTE_TYPES: frozenset[ValueType] = frozenset(
    {ValueType.TEXT, ValueType.NUMBER, ValueType.BOOL, ValueType.DATE, ValueType.TEXT_LIST}
)
