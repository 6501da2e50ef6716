"""What each engine cannot run: checked when a segment is saved, not when it is sent.

Engines state only their differences (as Ibis backends do): ``UNSUPPORTED`` lists, per engine,
the spec node kinds its lowering cannot run. Every node kind runs on DuckDB, PostgreSQL and
Spark today, so the sets are empty; an entry added here must come with a strict ``xfail``
in the engine corpus that expects ``UnsupportedError``. Unknown node names are an error, never
"supported" (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable

from segmentum.engine.connection import EngineKind
from segmentum.spec.nodes import NODE_TYPES, Node, walk

#: Every node kind a segment can contain, by class name.
NODE_KINDS: frozenset[str] = frozenset(node_type.__name__ for node_type in NODE_TYPES)

UNSUPPORTED: dict[EngineKind, frozenset[str]] = {
    EngineKind.DUCKDB: frozenset(),
    EngineKind.POSTGRES: frozenset(),
    EngineKind.PYSPARK: frozenset(),
}


def supports(engine_kind: EngineKind | str, node_class_name: str) -> bool:
    """Whether the engine can run the node kind; unknown kinds raise ``ValueError``."""
    if node_class_name not in NODE_KINDS:
        raise ValueError(f"unknown segment node kind {node_class_name!r}")
    return node_class_name not in UNSUPPORTED[EngineKind(engine_kind)]


def unsupported_nodes(engine_kind: EngineKind | str, roots: Iterable[Node]) -> list[str]:
    """The node kinds in the trees that the engine cannot run, sorted, each once."""
    names = {type(node).__name__ for root in roots for node in walk(root)}
    return sorted(name for name in names if not supports(engine_kind, name))
