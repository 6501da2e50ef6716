"""Which node kinds each engine dialect cannot run (Ibis ``has_operation`` in spirit).

Engines state only their differences: a dialect missing from the table, or a node kind missing
from a dialect's set, is supported. PostgreSQL and Spark fill their sets when the corpus shows a
gap; the compiler itself emits only portable Ibis operations.
"""

from __future__ import annotations

from collections.abc import Mapping

from segmentum.compiler.errors import UnsupportedError
from segmentum.spec.nodes import Node, walk

#: dialect -> names of node classes that dialect cannot evaluate.
UNSUPPORTED: Mapping[str, frozenset[str]] = {
    "duckdb": frozenset(),
    "postgres": frozenset(),
    "pyspark": frozenset(),
}


def supports(node: Node, dialect: str) -> bool:
    """Whether every node of the tree can run on ``dialect``."""
    missing = UNSUPPORTED.get(dialect, frozenset())
    return not any(type(each).__name__ in missing for each in walk(node))


def check_supported(node: Node, dialect: str) -> None:
    """Raise :class:`UnsupportedError` for the first node ``dialect`` cannot run."""
    missing = UNSUPPORTED.get(dialect, frozenset())
    for each in walk(node):
        if type(each).__name__ in missing:
            raise UnsupportedError(dialect, each)
