"""Vectorised builders of Arrow columns from numpy arrays (ids, money, instants, JSON text)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from segmentum.catalog.tables import Table
from segmentum.catalog.types import ValueType

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

MONEY_TYPE = pa.decimal128(18, 2)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

ARROW_TYPES: dict[ValueType, pa.DataType] = {
    ValueType.TEXT: pa.string(),
    ValueType.INTEGER: pa.int64(),
    ValueType.NUMBER: pa.float64(),
    ValueType.MONEY: MONEY_TYPE,
    ValueType.BOOL: pa.bool_(),
    ValueType.DATE: pa.date32(),
    ValueType.TIMESTAMP: TIMESTAMP_TYPE,
    ValueType.TEXT_LIST: pa.list_(pa.string()),
    ValueType.JSON: pa.string(),
}


def source_schema(table: Table) -> pa.Schema:
    """The Arrow schema of a file for ``table``: every column a file may provide, in order."""
    return pa.schema(
        [pa.field(column.name, ARROW_TYPES[column.type]) for column in table.source_columns]
    )


def ids(prefix: str, numbers: Ints, width: int) -> pa.Array:
    """``prefix`` + zero-padded number, e.g. ``C0000042``."""
    digits = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def money(cents: Ints) -> pa.Array:
    """DECIMAL(18,2) from integer cents, built straight from the 128-bit buffer."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty(2 * len(cents), dtype=np.int64)
    words[0::2] = cents
    words[1::2] = cents >> 63
    return pa.Array.from_buffers(MONEY_TYPE, len(cents), [None, pa.py_buffer(words)])


def instants(seconds: Ints) -> pa.Array:
    """UTC timestamps (microseconds) from epoch seconds."""
    micros = np.ascontiguousarray(seconds, dtype=np.int64) * 1_000_000
    return pa.array(micros, pa.int64()).view(TIMESTAMP_TYPE)


def dates(days: npt.NDArray[np.int64], null: Bools | None = None) -> pa.Array:
    """Dates from days since 1970-01-01, NULL where ``null``."""
    return pa.array(days.astype(np.int32), pa.int32(), mask=null).view(pa.date32())


def pick(values: Sequence[str], index: Ints, null: Bools | None = None) -> pa.Array:
    """``values[index]`` as a string column, NULL where ``null``."""
    return pa.array(list(values), pa.string()).take(pa.array(index, pa.int64(), mask=null))


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise string concatenation; plain strings are broadcast."""
    return pc.binary_join_element_wise(*parts, "")


def choice(rng: np.random.Generator, weights: Sequence[float], size: int) -> Ints:
    """Indices drawn with the given (unnormalised) weights."""
    p = np.asarray(weights, dtype=np.float64)
    cumulative = np.cumsum(p / p.sum())
    cumulative[-1] = 1.0
    return np.searchsorted(cumulative, rng.random(size), side="right").astype(np.int64)


def null_column(data_type: pa.DataType, length: int) -> pa.Array:
    return pa.nulls(length, data_type)


def group_positions(counts: Ints) -> tuple[Ints, Ints]:
    """For groups of the given sizes: each row's group and its position inside the group."""
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(len(owner), dtype=np.int64) - starts[owner]
    return owner, position
