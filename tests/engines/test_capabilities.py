from __future__ import annotations

import pytest

from segmentum.engine.capabilities import NODE_KINDS, UNSUPPORTED, supports, unsupported_nodes
from segmentum.engine.connection import EngineKind
from segmentum.spec.nodes import NODE_TYPES


def test_every_engine_is_listed() -> None:
    assert set(UNSUPPORTED) == set(EngineKind)
    assert all(names <= NODE_KINDS for names in UNSUPPORTED.values())


@pytest.mark.parametrize("kind", list(EngineKind))
def test_supports_every_node_kind_today(kind: EngineKind) -> None:
    assert [t.__name__ for t in NODE_TYPES if not supports(kind, t.__name__)] == []
    assert unsupported_nodes(kind, []) == []


def test_unknown_node_kind_fails_closed() -> None:
    with pytest.raises(ValueError, match="unknown segment node kind 'Everyone'"):
        supports(EngineKind.DUCKDB, "Everyone")
