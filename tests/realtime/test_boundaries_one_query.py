"""One query for every ranking's boundaries (``compile_all_boundaries``) gives exactly the
boundaries of one query per ranking (``compile_boundaries``, over the feature relation of
every definition), on the corpus shop, on every engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal as M
from typing import Any

import pytest

from segmentum.compiler.boundaries import (
    Boundary,
    boundaries_from_table,
    boundary_from_rows,
    compile_all_boundaries,
    compile_boundaries,
)
from segmentum.spec.nodes import Node
from tests.corpus.cases import CASES
from tests.corpus.conftest import ENGINE_PARAMS
from tests.corpus.engines import EngineWorkspace, open_workspace
from tests.corpus.shop import AS_OF, CATALOG, DATA, SETTINGS, D
from tests.engine_fixtures import fresh_engine

BY_NAME = {case.name: case.definition for case in CASES}
BINS = SETTINGS.rfm.bins

PERCENTILES = tuple(name for name in BY_NAME if name.startswith("percentile_"))
RFM = "metric_rfm_group_ranges_lost"

#: definitions -> per ranking they use (kind, n, cuts or None when only n is checked). 28
#: customers have an order (r/f/m, recency, avg); 37 are in the universe (a count or a sum
#: is 0 without orders). The cuts agree with the corpus's expected members: the top 20 % of
#: the 60-day order count ends at (1, c32), the bottom 10 % of the average amount is c11, c12
#: and c21, below (65.0, c35).
RANKINGS: list[tuple[tuple[str, ...], list[tuple[str, int, tuple[Any, ...] | None]]]] = [
    ((RFM,), [
        ("score", 28, ((date(2024, 3, 30), "c17"), (date(2024, 4, 20), "c37"),
                       (date(2024, 5, 4), "c25"), (date(2024, 5, 10), "c12"))),
        ("score", 28, ((1, "c08"), (1, "c20"), (1, "c31"), (2, "c30"))),
        ("score", 28, ((M("90.00"), "c16"), (M("120.00"), "c25"), (M("300.00"), "c08"),
                       (M("399.00"), "c22"))),
    ]),
    (("percentile_top_metric",), [("top", 37, None)]),
    (("percentile_top_metric_recency",), [("top", 28, None)]),
    (("percentile_bottom_metric_recency",), [("bottom", 28, None)]),
    (("percentile_top_aggregate_ties",), [("top", 37, ((1, "c32"),))]),
    (("percentile_bottom_aggregate_sum",), [("bottom", 37, None)]),
    (("percentile_bottom_aggregate_avg",), [("bottom", 28, ((65.0, "c35"),))]),
    # every ranking of the corpus in one query
    ((*PERCENTILES, RFM, "metric_rfm_group_grid_champions"), []),
]  # fmt: skip


@pytest.fixture(scope="module", params=ENGINE_PARAMS)
def engine(request: pytest.FixtureRequest) -> Iterator[EngineWorkspace]:
    connection, cleanup = fresh_engine(request, request.param, CATALOG)
    workspace = open_workspace(request.param, connection, CATALOG)
    workspace.load(DATA)
    yield workspace
    cleanup()


def _per_ranking(engine: EngineWorkspace, named: dict[str, Node]) -> dict[str, Boundary]:
    queries = compile_boundaries(named, CATALOG, SETTINGS, engine.tables, AS_OF)
    return {
        name: boundary_from_rows(kind, query.to_pyarrow().to_pylist(), BINS, percent, D)
        for name, (kind, query, percent) in queries.items()
    }


def _one_query(engine: EngineWorkspace, named: dict[str, Node]) -> dict[str, Boundary]:
    rankings, query = compile_all_boundaries(named, CATALOG, SETTINGS, engine.tables, AS_OF)
    rows = query.to_pyarrow().to_pylist() if query is not None else []
    return boundaries_from_table(rankings, rows, BINS, D)


@pytest.mark.parametrize(("names", "expected"), RANKINGS)
def test_one_query_equals_one_query_per_ranking(
    engine: EngineWorkspace,
    names: tuple[str, ...],
    expected: list[tuple[str, int, tuple[Any, ...] | None]],
) -> None:
    named = {name: BY_NAME[name] for name in names}
    one = _one_query(engine, named)
    per_ranking = _per_ranking(engine, named)
    assert one == per_ranking
    assert {name: b.to_json() for name, b in one.items()} == {
        name: b.to_json() for name, b in per_ranking.items()
    }
    for boundary, (kind, n, cuts) in zip(one.values(), expected, strict=False):
        assert (boundary.kind, boundary.n) == (kind, n)
        assert cuts is None or boundary.cuts == cuts
    if expected:
        assert len(one) == len(expected)


def test_no_ranking_no_query(engine: EngineWorkspace) -> None:
    named = {"active": BY_NAME["metric_lifecycle_active"]}
    assert compile_all_boundaries(named, CATALOG, SETTINGS, engine.tables, AS_OF) == ([], None)
