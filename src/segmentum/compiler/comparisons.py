"""Comparisons: which operators fit which value type, typing values, and lowering to Ibis.

Every value becomes an Ibis literal (bound, never pasted into SQL text). A comparison with a
NULL operand is false (``coalesce(…, false)``) except ``is_not_set``, so ``not`` is two-valued.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from segmentum.catalog.types import ValueType
from segmentum.compiler.windows import Clock
from segmentum.spec.nodes import (
    LIST_OPERATORS,
    RANGE_OPERATORS,
    UNARY_OPERATORS,
    Comparison,
    Scalar,
)

T = ValueType
_UNARY = frozenset({"is_set", "is_not_set"})
_ORDERED = frozenset({"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between"}) | _UNARY

#: Operators per value type. Text has no ordering operators: string order depends on each
#: engine's collation, so it would not give identical members everywhere.
OPERATORS_BY_TYPE: dict[ValueType, frozenset[str]] = {
    T.TEXT: frozenset({"eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with"})
    | _UNARY,
    T.INTEGER: _ORDERED,
    T.NUMBER: _ORDERED,
    T.MONEY: _ORDERED,
    T.DATE: _ORDERED,
    T.TIMESTAMP: _ORDERED,
    T.BOOL: frozenset({"eq", "ne"}) | _UNARY,
    T.TEXT_LIST: frozenset({"contains"}) | _UNARY,
    T.JSON: _UNARY,
}


def _element_type(value_type: ValueType) -> ValueType:
    return T.TEXT if value_type is T.TEXT_LIST else value_type


def typed_value(value: Scalar, value_type: ValueType) -> Any:
    """The Python value of ``value`` for a field of ``value_type``; ValueError if it does not
    fit. Numbers become Decimal (exact), dates ``date``."""
    value_type = _element_type(value_type)
    if value_type is T.TEXT:
        if isinstance(value, str):
            return value
        raise ValueError(f"expected text, got {value!r}")
    if value_type is T.BOOL:
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected true or false, got {value!r}")
    if value_type.is_numeric:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        if isinstance(value, int | float | str):
            try:
                number = Decimal(str(value))
            except InvalidOperation as error:
                raise ValueError(f"expected a number, got {value!r}") from error
            if not number.is_finite():
                raise ValueError(f"expected a finite number, got {value!r}")
            return number
        raise ValueError(f"expected a number, got {value!r}")
    if value_type.is_temporal:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError as error:
                raise ValueError(f"expected an ISO date (YYYY-MM-DD), got {value!r}") from error
        raise ValueError(f"expected an ISO date (YYYY-MM-DD), got {value!r}")
    raise ValueError(f"{value_type.value} values cannot be compared")


def comparison_issues(
    comparison: Comparison, value_type: ValueType
) -> Iterator[tuple[str, str, str]]:
    """(code, sub-pointer, message) for each problem of ``comparison`` on ``value_type``."""
    op = comparison.op
    if op not in OPERATORS_BY_TYPE[value_type]:
        yield "SEG102", "/op", f"operator {op!r} is not valid for a {value_type.value} field"
        return
    value = comparison.value
    if op in UNARY_OPERATORS:
        if value is not None:
            yield "SEG103", "/value", f"{op} takes no value"
        return
    if op in LIST_OPERATORS or op in RANGE_OPERATORS:
        if not isinstance(value, tuple):
            yield "SEG103", "/value", f"{op} needs a list of values"
            return
        if op in LIST_OPERATORS and not value:
            yield "SEG103", "/value", f"{op} needs at least one value"
        if op in RANGE_OPERATORS and len(value) != 2:
            yield "SEG103", "/value", "between needs exactly two values [low, high]"
        for index, item in enumerate(value):
            try:
                typed_value(item, value_type)
            except ValueError as error:
                yield "SEG103", f"/value/{index}", str(error)
        return
    if value is None or isinstance(value, tuple):
        yield "SEG103", "/value", f"{op} needs one value"
        return
    try:
        typed_value(value, value_type)
    except ValueError as error:
        yield "SEG103", "/value", str(error)


def literal(value: Any, value_type: ValueType) -> Any:
    """An Ibis literal of a typed value."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        scale = max(0, -exponent) if isinstance(exponent, int) else 0
        digits = len(value.as_tuple().digits)
        precision = min(38, max(18, digits + scale))
        return ibis.literal(value, type=dt.Decimal(precision=precision, scale=scale))
    if isinstance(value, bool):
        return ibis.literal(value, type=dt.boolean)
    if isinstance(value, date):
        return ibis.literal(value, type=dt.date)
    return ibis.literal(value, type=dt.string)


def _timestamp_day(expr: Any, day: date, clock: Clock) -> tuple[Any, Any]:
    """(start, end) instants of a local date: a timestamp is on ``day`` when start <= ts < end."""
    start = ibis.literal(clock.day_start_utc(day), type=dt.Timestamp(scale=6))
    end = ibis.literal(clock.day_start_utc(day + timedelta(days=1)), type=dt.Timestamp(scale=6))
    return start, end


def _scalar_compare(expr: Any, op: str, value: Any, value_type: ValueType, clock: Clock) -> Any:
    if value_type is T.TIMESTAMP:
        # compare the instant's local date with a date: turn the date into instant bounds
        start, end = _timestamp_day(expr, value, clock)
        if op == "eq":
            return (expr >= start) & (expr < end)
        if op == "ne":
            return (expr < start) | (expr >= end)
        if op == "gt":
            return expr >= end
        if op == "gte":
            return expr >= start
        if op == "lt":
            return expr < start
        if op == "lte":
            return expr < end
        raise AssertionError(op)
    lit = literal(value, value_type)
    if op == "eq":
        return expr == lit
    if op == "ne":
        return expr != lit
    if op == "gt":
        return expr > lit
    if op == "gte":
        return expr >= lit
    if op == "lt":
        return expr < lit
    if op == "lte":
        return expr <= lit
    if op == "contains":
        return expr.contains(lit)
    if op == "starts_with":
        return expr.startswith(lit)
    if op == "ends_with":
        return expr.endswith(lit)
    raise AssertionError(op)


def is_set(expr: Any, value_type: ValueType) -> Any:
    present = expr.notnull()
    if value_type is T.TEXT_LIST:
        present = present & (expr.length() > 0).fill_null(False)
    return present


def compare(expr: Any, value_type: ValueType, comparison: Comparison, clock: Clock) -> Any:
    """A never-NULL boolean Ibis expression for ``expr op value``."""
    op = comparison.op
    if op == "is_set":
        return is_set(expr, value_type)
    if op == "is_not_set":
        return ~is_set(expr, value_type)
    raw = comparison.value
    if op in LIST_OPERATORS or op in RANGE_OPERATORS:
        assert isinstance(raw, tuple)
        values = [typed_value(item, value_type) for item in raw]
        if op == "between":
            low, high = values
            result = _scalar_compare(expr, "gte", low, value_type, clock) & _scalar_compare(
                expr, "lte", high, value_type, clock
            )
        elif value_type is T.TIMESTAMP:
            result = ibis.or_(*(_scalar_compare(expr, "eq", v, value_type, clock) for v in values))
            if op == "not_in":
                result = expr.notnull() & ~result
        else:
            literals = [literal(v, value_type) for v in values]
            result = expr.isin(literals) if op == "in" else expr.notin(literals)
        return result.fill_null(False)
    assert raw is not None
    assert not isinstance(raw, tuple)
    value = typed_value(raw, value_type)
    if value_type is T.TEXT_LIST:
        return expr.contains(literal(value, T.TEXT)).fill_null(False)
    return _scalar_compare(expr, op, value, value_type, clock).fill_null(False)
