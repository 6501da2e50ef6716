"""Timers of order metrics: an order stamped after as_of wakes its customer at its instant
(found by the timers property test: an r_score segment changed with no timer)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler.timers import compile_timers
from segmentum.spec.nodes import Comparison, Metric
from tests.compiler.conftest import AS_OF, D, MakeTables, customer, order


def metric(name: str, op: str, value: Any) -> Metric:
    return Metric(name=name, comparison=Comparison.model_validate({"op": op, "value": value}))


@pytest.mark.parametrize(
    "definition",
    [
        metric("r_score", "gte", 4),
        metric("f_score", "gte", 2),
        metric("m_score", "lte", 3),
        metric("frequency", "gte", 2),
        metric("monetary", "gte", 100),
    ],
)
def test_an_order_stamped_after_as_of_sets_a_timer_at_its_instant(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables, definition: Metric
) -> None:
    future = datetime(2024, 5, 12, 8, 30)  # as_of is 2024-05-10 12:00 UTC
    orders = [
        order("o1", "a", D - timedelta(days=30)),
        {**order("o2", "a", future.date()), "ordered_at": future},
        order("o3", "b", D - timedelta(days=3)),
    ]
    tables = make_tables(customers=[customer("a"), customer("b")], orders=orders)
    due = compile_timers({"s": definition}, catalog, settings, tables, AS_OF).to_pyarrow()
    assert due.to_pylist() == [{"customer_id": "a", "due_date": None, "due_at": future}]
