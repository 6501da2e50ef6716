"""Value types of computed values: aggregates, derived attributes and metrics."""

from __future__ import annotations

from segmentum.catalog.types import ValueType

T = ValueType

METRIC_TYPES: dict[str, ValueType] = {
    "lifecycle": T.TEXT,
    "recency_days": T.INTEGER,
    "frequency": T.INTEGER,
    "monetary": T.MONEY,
    "r_score": T.INTEGER,
    "f_score": T.INTEGER,
    "m_score": T.INTEGER,
    "rfm_group": T.TEXT,
}
NUMERIC_METRICS = frozenset(name for name, kind in METRIC_TYPES.items() if kind.is_numeric)
DERIVED_TYPES: dict[str, ValueType] = {"age": T.INTEGER, "days_since_signup": T.INTEGER}

_SCALAR = frozenset({T.TEXT, T.INTEGER, T.NUMBER, T.MONEY, T.BOOL, T.DATE, T.TIMESTAMP})
_ORDERED = frozenset({T.INTEGER, T.NUMBER, T.MONEY, T.DATE, T.TIMESTAMP})


def aggregate_problem(function: str, field_type: ValueType | None) -> str | None:
    """Why ``function`` cannot take a field of ``field_type`` (None: no field), or None."""
    if function == "count":
        return "count counts records and takes no field" if field_type is not None else None
    if field_type is None:
        return f"{function} needs a field"
    if function in ("sum", "avg") and not field_type.is_numeric:
        return f"{function} needs a numeric field, not {field_type.value}"
    if function in ("min", "max") and field_type not in _ORDERED:
        return f"{function} needs a numeric or date field, not {field_type.value}"
    if function == "count_distinct" and field_type not in _SCALAR:
        return f"count_distinct cannot count {field_type.value} values"
    return None


def aggregate_type(function: str, field_type: ValueType | None) -> ValueType:
    if function in ("count", "count_distinct"):
        return T.INTEGER
    assert field_type is not None
    if function == "avg":
        return T.MONEY if field_type is T.MONEY else T.NUMBER
    return field_type
