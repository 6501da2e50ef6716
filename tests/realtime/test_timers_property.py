"""Property: timers never miss a flip. For random shops and definitions, a customer's
memberships do not change from ``as_of`` until just before their timer, and a customer
without a timer keeps them at any later instant (so the timer loop, waking exactly the due
customers, reproduces a full refresh)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentum.compiler.boundaries import (
    boundaries_from_table,
    compile_all_boundaries,
    compile_segments_bounded,
)
from segmentum.compiler.timers import compile_timers, global_flip
from segmentum.membership.timers import next_flips
from segmentum.spec.nodes import Node
from tests.corpus.engines import EngineWorkspace, open_workspace, true_sets
from tests.corpus.shop import CATALOG, PRAGUE, SETTINGS, end_of_local_day
from tests.corpus.test_random_shops import aggregates, definitions, leaves, sequences, shops
from tests.engine_fixtures import fresh_engine

#: Mostly time-bound leaves (windows, recency, lifecycle, derived dates), and some trees.
timed = st.one_of(aggregates(), sequences(), leaves, leaves, definitions)


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
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        data=shops(),
        nodes=st.lists(timed, min_size=1, max_size=4),
        start=st.integers(0, 90),
        later=st.integers(1, 200 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes)),
    )
    def no_missed_flip(
        data: dict[str, Any], nodes: list[Node], start: int, later: timedelta
    ) -> None:
        # random shops crowd their records into the first weeks of 2024: evaluate there
        day = date(2024, 1, 1) + timedelta(days=start)
        as_of = end_of_local_day(day)
        named = {f"s{n}": node for n, node in enumerate(nodes)}
        engine.load(data)
        rankings, query = compile_all_boundaries(named, CATALOG, SETTINGS, engine.tables, as_of)
        rows = query.to_pyarrow().to_pylist() if query is not None else []
        bounds = boundaries_from_table(rankings, rows, SETTINGS.rfm.bins, day)
        then = as_of + later
        flip = global_flip(named, SETTINGS, as_of)
        if flip is not None and then.astimezone(PRAGUE).date() >= flip:
            return  # a global flip: the timer loop runs a full refresh
        due = compile_timers(named, CATALOG, SETTINGS, engine.tables, as_of).to_pyarrow()
        flips = next_flips(due, SETTINGS.timezone).to_pylist()
        limit = then.replace(tzinfo=None) - then.utcoffset()  # type: ignore[operator]
        woken = {row["customer_id"] for row in flips if row["next_flip_at"] <= limit}
        assert all(row["next_flip_at"] > as_of.replace(tzinfo=None) for row in flips)
        before = _members(engine, named, as_of, bounds)
        after = _members(engine, named, then, bounds)
        for name in named:
            changed = before[name] ^ after[name]
            assert changed <= woken, (name, changed - woken)
        for row in flips:  # unchanged until the very last instant before the timer
            if row["next_flip_at"] > limit:
                continue
            instant = row["next_flip_at"].replace(tzinfo=UTC) - timedelta(microseconds=1)
            just_before = _members(engine, named, instant, bounds)
            for name in named:
                changed = before[name] ^ just_before[name]
                assert row["customer_id"] not in changed, (name, row)

    no_missed_flip()
