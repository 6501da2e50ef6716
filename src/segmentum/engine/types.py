"""Catalog value types as Ibis data types: one mapping serves every engine."""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from segmentum.catalog.tables import Table
from segmentum.catalog.types import ValueType

MONEY = dt.Decimal(precision=18, scale=2)

IBIS_TYPES: dict[ValueType, dt.DataType] = {
    ValueType.TEXT: dt.string,
    ValueType.INTEGER: dt.int64,
    ValueType.NUMBER: dt.float64,
    ValueType.MONEY: MONEY,
    ValueType.BOOL: dt.boolean,
    ValueType.DATE: dt.date,
    ValueType.TIMESTAMP: dt.Timestamp(scale=6),
    ValueType.TEXT_LIST: dt.Array(dt.string),
    ValueType.JSON: dt.string,
}


def ibis_schema(table: Table) -> ibis.Schema:
    return ibis.schema({column.name: IBIS_TYPES[column.type] for column in table.columns})
