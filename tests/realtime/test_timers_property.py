"""Property: timers never miss a flip. For random shops and definitions, a customer whose
membership at a later instant T differs from that at ``AS_OF`` has a timer at or before T
(so the timer loop, waking exactly those customers, reproduces a full refresh at T)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentum.compiler.boundaries import (
    boundary_from_rows,
    compile_boundaries,
    compile_segments_bounded,
)
from segmentum.compiler.timers import compile_timers, global_flip
from segmentum.membership.timers import next_flips
from segmentum.spec.nodes import Node
from tests.corpus.engines import EngineWorkspace, open_workspace, true_sets
from tests.corpus.shop import AS_OF, CATALOG, PRAGUE, SETTINGS, D
from tests.corpus.test_random_shops import definitions, shops
from tests.engine_fixtures import fresh_engine


@pytest.fixture(scope="module")
def engine(request: pytest.FixtureRequest) -> Iterator[EngineWorkspace]:
    connection, cleanup = fresh_engine(request, "duckdb", CATALOG)
    yield open_workspace("duckdb", connection, CATALOG)
    cleanup()


def _members(engine: EngineWorkspace, named: dict[str, Node], at: Any, bounds: Any) -> Any:
    result = compile_segments_bounded(named, CATALOG, SETTINGS, engine.tables, at, bounds)
    members, _ = true_sets(result, named)
    return members


def test_no_flip_without_a_timer(engine: EngineWorkspace) -> None:
    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        data=shops(),
        nodes=st.lists(definitions, min_size=1, max_size=3),
        later=st.integers(1, 400 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes)),
    )
    def no_missed_flip(data: dict[str, Any], nodes: list[Node], later: timedelta) -> None:
        named = {f"s{n}": node for n, node in enumerate(nodes)}
        engine.load(data)
        queries = compile_boundaries(named, CATALOG, SETTINGS, engine.tables, AS_OF)
        bounds = {
            name: boundary_from_rows(kind, q.to_pyarrow().to_pylist(), SETTINGS.rfm.bins, p, D)
            for name, (kind, q, p) in queries.items()
        }
        then = AS_OF + later
        flip = global_flip(named, SETTINGS, AS_OF)
        if flip is not None and then.astimezone(PRAGUE).date() >= flip:
            return  # a global flip: the timer loop runs a full refresh
        due = compile_timers(named, CATALOG, SETTINGS, engine.tables, AS_OF).to_pyarrow()
        flips = next_flips(due, SETTINGS.timezone).to_pylist()
        limit = then.replace(tzinfo=None) - then.utcoffset()  # type: ignore[operator]
        woken = {row["customer_id"] for row in flips if row["next_flip_at"] <= limit}
        assert all(row["next_flip_at"] > AS_OF.replace(tzinfo=None) for row in flips)
        before = _members(engine, named, AS_OF, bounds)
        after = _members(engine, named, then, bounds)
        for name in named:
            changed = before[name] ^ after[name]
            assert changed <= woken, (name, changed - woken)

    no_missed_flip()
