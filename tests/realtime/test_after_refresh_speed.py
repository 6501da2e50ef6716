"""The boundaries of a full refresh (``compile_all_boundaries``, value groups: only the groups
a cut falls in are ranked by customer_id) equal a brute-force sort in Python of
(value, customer_id), on shops whose ties cross the cuts (many customers share an order
count, a sum or a last order day), and the one-query-per-ranking reference."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal as M
from fractions import Fraction
from typing import Any

import pytest

from segmentum.compiler.boundaries import (
    Boundary,
    _positions,
    boundaries_from_table,
    boundary_from_rows,
    compile_all_boundaries,
    compile_boundaries,
)
from segmentum.spec.nodes import MetricMeasure, Node, Percentile
from tests.corpus.cases import CASES
from tests.corpus.conftest import ENGINE_PARAMS
from tests.corpus.engines import EngineWorkspace, open_workspace
from tests.corpus.shop import AS_OF, CATALOG, DEFAULT_SIGNUP, SETTINGS, D, at
from tests.engine_fixtures import fresh_engine

BINS = SETTINGS.rfm.bins
RFM = {case.name: case.definition for case in CASES}["metric_rfm_group_ranges_lost"]
DAYS = (date(2024, 5, 1), date(2024, 5, 10), date(2024, 4, 2))


def _monetary(direction: str, percent: int) -> Node:
    return Percentile(measure=MetricMeasure(metric="monetary"), direction=direction,
                      percent=percent)  # fmt: skip


def _shop(customers: int, orders_of: list[int], amounts: list[str]) -> dict[str, Any]:
    """Customer ``k`` (ids inserted in a scrambled order) has ``orders_of[k % len]`` orders,
    amounts and days cycling through a few values: large tie groups everywhere."""
    columns = CATALOG.table("customers").column_names
    people, orders = [], []
    for k in sorted(range(customers), key=lambda k: (k * 7) % customers):
        cid = f"c{k:03d}"
        row: dict[str, Any] = dict.fromkeys(columns)
        row.pop("signup_date")
        row.update(customer_id=cid, signup_at=DEFAULT_SIGNUP)
        people.append(row)
        for j in range(orders_of[k % len(orders_of)]):
            day = DAYS[(k + j) % len(DAYS)]
            orders.append({"order_id": f"o{k:03d}{j}", "customer_id": cid,
                           "ordered_at": at(day.year, day.month, day.day),
                           "amount": M(amounts[(k * j + j) % len(amounts)]), "currency": "CZK",
                           "status": "paid", "store": None})  # fmt: skip
    return {"customers": people, "orders": orders}


#: (id, shop, definitions). The percentiles rank monetary over every customer (0 without
#: orders: the first group is everybody without an order).
CASES_TIES: list[tuple[str, dict[str, Any], dict[str, Node]]] = [
    ("few_values", _shop(40, [0, 1, 2, 2, 3], ["100.00", "100.00", "50.00"]),
     {"rfm": RFM, "top": _monetary("top", 20), "bottom": _monetary("bottom", 35)}),
    ("one_order_each", _shop(25, [1], ["10.00"]),
     {"rfm": RFM, "top": _monetary("top", 100), "bottom": _monetary("bottom", 100)}),
    ("mostly_without", _shop(30, [0, 0, 0, 4], ["7.00", "9.00"]),
     {"rfm": RFM, "top": _monetary("top", 50), "bottom": _monetary("bottom", 10)}),
    ("single_customer", _shop(1, [2], ["5.00"]),
     {"rfm": RFM, "top": _monetary("top", 1), "bottom": _monetary("bottom", 1)}),
]  # fmt: skip


def _brute_force(shop: dict[str, Any], definitions: dict[str, Node]) -> dict[str, Boundary]:
    """Every ranking sorted in Python; the stored form from the rows at the cut positions."""
    ids = [row["customer_id"] for row in shop["customers"]]
    mine: dict[str, list[dict[str, Any]]] = {cid: [] for cid in ids}
    for order in shop["orders"]:
        mine[order["customer_id"]].append(order)
    buyers = [cid for cid in ids if mine[cid]]
    last = {cid: max(o["ordered_at"] for o in mine[cid]).date() for cid in buyers}
    total = {cid: sum((o["amount"] for o in mine[cid]), M("0.00")) for cid in ids}
    values: dict[str, tuple[str, Any, dict[str, Any]]] = {
        "rfm:r:k5": ("score", None, last),
        "rfm:f:k5": ("score", None, {cid: len(mine[cid]) for cid in buyers}),
        "rfm:m:k5": ("score", None, {cid: total[cid] for cid in buyers}),
    }
    out: dict[str, Boundary] = {}
    for name, (kind, percent, by_id) in values.items():
        out[name] = _from_sorted(kind, percent, by_id)
    for node in definitions.values():
        if isinstance(node, Percentile):
            out[f"{node.direction}{int(node.percent)}"] = _from_sorted(
                node.direction, Fraction(node.percent), total
            )
    return out


def _from_sorted(kind: str, percent: Any, by_id: dict[str, Any]) -> Boundary:
    ordered = sorted((value, cid) for cid, value in by_id.items())
    n = len(ordered)
    wanted = {0, *_positions(kind, n, BINS, percent)}
    rows = [{"i": i, "n": n, "v": ordered[i][0], "customer_id": ordered[i][1]}
            for i in sorted(wanted) if 0 <= i < n]  # fmt: skip
    return boundary_from_rows(kind, rows, BINS, percent, D)


@pytest.fixture(scope="module", params=ENGINE_PARAMS[:2])
def engine(request: pytest.FixtureRequest) -> Iterator[EngineWorkspace]:
    connection, cleanup = fresh_engine(request, request.param, CATALOG)
    yield open_workspace(request.param, connection, CATALOG)
    cleanup()


@pytest.mark.parametrize(("case", "shop", "definitions"), CASES_TIES,
                         ids=[case[0] for case in CASES_TIES])  # fmt: skip
def test_boundaries_equal_a_sort_in_python(
    engine: EngineWorkspace, case: str, shop: dict[str, Any], definitions: dict[str, Node]
) -> None:
    engine.load(shop)
    rankings, query = compile_all_boundaries(definitions, CATALOG, SETTINGS, engine.tables,
                                             AS_OF)  # fmt: skip
    rows = query.to_pyarrow().to_pylist()
    got = boundaries_from_table(rankings, rows, BINS, D)
    expected = _brute_force(shop, definitions)
    by_percent = {r.name: f"{r.kind}{int(r.percent)}" for r in rankings if r.percent is not None}
    assert {by_percent.get(name, name): b for name, b in got.items()} == expected
    reference = compile_boundaries(definitions, CATALOG, SETTINGS, engine.tables, AS_OF)
    assert got == {
        name: boundary_from_rows(kind, q.to_pyarrow().to_pylist(), BINS, percent, D)
        for name, (kind, q, percent) in reference.items()
    }


def test_brute_force_sees_the_ties() -> None:
    """The oracle itself, on the first shop: exact cuts (ties broken by customer_id)."""
    _, shop, definitions = CASES_TIES[0]
    got = _brute_force(shop, definitions)
    assert (got["rfm:f:k5"].n, got["rfm:f:k5"].cuts) == (
        32,
        ((1, "c036"), (2, "c013"), (2, "c028"), (3, "c009")),
    )
    assert got["rfm:r:k5"].cuts == (
        (date(2024, 5, 1), "c023"),
        (date(2024, 5, 10), "c004"),
        (date(2024, 5, 10), "c016"),
        (date(2024, 5, 10), "c028"),
    )
    assert got["top20"].cuts == ((M("250.00"), "c004"),)
    assert (got["bottom35"].n, got["bottom35"].cuts) == (40, ((M("100.00"), "c031"),))
