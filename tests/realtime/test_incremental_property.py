"""Property: membership after incremental micro-batches (records arriving in shuffled order,
some re-sent) equals a full evaluation at the same as-of with the same stored boundaries.

Random shops and random definitions are the corpus's (tests/corpus/test_random_shops.py).
A part of every shop is there at the start: boundaries are recomputed over it (as a full
refresh does) and its members are the starting membership; the rest arrives in units (a
customer, an order with its items, an event, a consent row) shuffled, with duplicates, in
random micro-batches. Each batch writes only units not stored yet (idempotency), re-evaluates
only the touched customers for the segments the written tables can affect, and replaces
their memberships.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentum.compiler import compile_segments
from segmentum.compiler.boundaries import (
    boundaries_from_table,
    compile_all_boundaries,
    compile_segments_bounded,
)
from segmentum.compiler.dependencies import affected_segments, dependencies
from segmentum.membership.incremental import evaluate_members
from segmentum.spec.nodes import Node
from tests.corpus.engines import EngineWorkspace, open_workspace, true_sets
from tests.corpus.shop import AS_OF, CATALOG, SETTINGS, D
from tests.corpus.test_random_shops import definitions, shops
from tests.engine_fixtures import fresh_engine

Unit = tuple[str, str, list[dict[str, Any]]]  # (kind, key, rows by table "table:row")


@pytest.fixture(scope="module")
def engine(request: pytest.FixtureRequest) -> Iterator[EngineWorkspace]:
    connection, cleanup = fresh_engine(request, "duckdb", CATALOG)
    yield open_workspace("duckdb", connection, CATALOG)
    cleanup()


def _units(data: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, dict[str, list[Any]]]]:
    """Arrival units: a customer, an order with its items, an event, a consent row."""
    units: list[tuple[str, str, dict[str, list[Any]]]] = []
    for row in data["customers"]:
        units.append(("customers", row["customer_id"], {"customers": [row]}))
    for row in data["orders"]:
        items = [item for item in data["order_items"] if item["order_id"] == row["order_id"]]
        units.append(("orders", row["order_id"], {"orders": [row], "order_items": items}))
    for row in data["events"]:
        units.append(("events", row["event_id"], {"events": [row]}))
    for row in data["subscriptions"]:
        key = f"{row['customer_id']}/{row['channel']}"
        units.append(("subscriptions", key, {"subscriptions": [row]}))
    return units


def _customer_of(unit: tuple[str, str, dict[str, list[Any]]]) -> str:
    kind, _, rows = unit
    return str(rows[kind][0]["customer_id"])


def _boundaries(engine: EngineWorkspace, named: dict[str, Node]) -> dict[str, Any]:
    """As a full refresh recomputes them: every ranking in one query."""
    rankings, query = compile_all_boundaries(named, CATALOG, SETTINGS, engine.tables, AS_OF)
    rows = query.to_pyarrow().to_pylist() if query is not None else []
    return dict(boundaries_from_table(rankings, rows, SETTINGS.rfm.bins, D))


@st.composite
def arrivals(draw: st.DrawFn) -> dict[str, Any]:
    data = draw(shops())
    units = _units(data)
    initial = draw(st.lists(st.booleans(), min_size=len(units), max_size=len(units)))
    later = [unit for unit, first in zip(units, initial, strict=True) if not first]
    resent = draw(st.lists(st.sampled_from(later), max_size=3)) if later else []
    stream = draw(st.permutations(later + resent))
    cuts = draw(st.lists(st.integers(0, len(stream)), max_size=3))
    return {
        "data": data,
        "initial": [unit for unit, first in zip(units, initial, strict=True) if first],
        "stream": stream,
        "cuts": sorted(set(cuts)),
    }


def _load(engine: EngineWorkspace, data: dict[str, Any], stored: dict[str, Any]) -> None:
    tables: dict[str, list[dict[str, Any]]] = {"products": data["products"]}
    for kind, _key, rows in stored.values():
        del kind
        for table, table_rows in rows.items():
            tables.setdefault(table, []).extend(table_rows)
    engine.load(tables)


def test_incremental_equals_full_refresh(engine: EngineWorkspace) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=arrivals(), nodes=st.lists(definitions, min_size=1, max_size=3))
    def incremental_equals_full(case: dict[str, Any], nodes: list[Node]) -> None:
        named = {f"s{n}": node for n, node in enumerate(nodes)}
        deps = dependencies(named, CATALOG)
        stored = {(u[0], u[1]): u for u in case["initial"]}
        _load(engine, case["data"], stored)
        boundaries = _boundaries(engine, named)
        # at the recomputation the stored boundaries give exactly the window ranks
        full = compile_segments(named, CATALOG, SETTINGS, engine.tables, AS_OF)
        members, _ = true_sets(full, named)
        bounded = compile_segments_bounded(named, CATALOG, SETTINGS, engine.tables, AS_OF,
                                           boundaries)  # fmt: skip
        assert true_sets(bounded, named)[0] == members

        stream, cuts = case["stream"], case["cuts"]
        batches = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        for batch in batches:
            fresh = [u for u in batch if (u[0], u[1]) not in stored]  # idempotent by key
            touched = {_customer_of(u) for u in batch}
            written = {table for u in fresh for table in u[2]}
            event_types = {row["type"] for u in fresh for row in u[2].get("events", [])}
            for unit in fresh:
                stored[(unit[0], unit[1])] = unit
            if not fresh:
                continue
            _load(engine, case["data"], stored)
            segments = affected_segments(deps, written, event_types)
            got = evaluate_members(named, segments, CATALOG, SETTINGS, engine.tables, AS_OF,
                                   touched, boundaries)  # fmt: skip
            for segment in segments:
                kept = members[segment] - touched
                members[segment] = kept | {
                    row["customer_id"] for row in got.to_pylist() if row["segment"] == segment
                }

        final = compile_segments_bounded(named, CATALOG, SETTINGS, engine.tables, AS_OF,
                                         boundaries)  # fmt: skip
        expected, with_nulls = true_sets(final, named)
        assert members == expected
        assert not with_nulls

    incremental_equals_full()
