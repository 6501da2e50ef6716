"""Bucket: first 32 bits of md5(seed ':' customer_id) as an unsigned integer, mod N.

``md5`` is a builtin function on DuckDB, PostgreSQL and Spark alike (lowercase hex text), called
through an Ibis builtin UDF because ibis 12 has no ``hexdigest`` rule for PostgreSQL. The first
eight hex digits become an integer with portable string functions only: the digit's position
in ``0123456789abcdef`` times 16^k.
"""

from __future__ import annotations

import hashlib
from typing import Any

import ibis
import ibis.expr.datatypes as dt

HEX_DIGITS = "0123456789abcdef"


@ibis.udf.scalar.builtin(name="md5")  # type: ignore[untyped-decorator]
def _md5(value: str) -> str:  # pragma: no cover - compiled to the engine's md5()
    """The engine's md5(): lowercase hex digest of the text."""
    raise NotImplementedError


def hash32_expr(seed: str, customer_id: Any) -> Any:
    digest = _md5(ibis.literal(f"{seed}:") + customer_id)
    digits = ibis.literal(HEX_DIGITS)
    # DECIMAL arithmetic: engines type the digit position as a 32-bit integer (PostgreSQL's
    # POSITION), and Ibis drops a cast to int64 it thinks redundant, so 15 * 16^7 would
    # overflow; a decimal cast is kept and exact on every engine.
    wide = dt.Decimal(precision=20, scale=0)
    total: Any = ibis.literal(0, type=wide)
    for index in range(8):
        weight = 16 ** (7 - index)
        digit = digits.find(digest.substr(index, 1)).cast(wide)
        total = total + digit * ibis.literal(weight, type=wide)
    return total


def bucket_python(seed: str, customer_id: str, modulo: int) -> int:
    """Python twin of the lowered bucket."""
    digest = hashlib.md5(f"{seed}:{customer_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % modulo
