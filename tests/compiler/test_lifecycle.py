from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler import compile_lifecycle, compile_segments
from segmentum.compiler.lifecycle import stage_python
from segmentum.spec.nodes import Comparison, Metric
from tests.compiler.conftest import AS_OF, D, MakeTables, customer, order


def ago(days: int) -> date:
    return D - timedelta(days=days)


# customer -> order ages (days before D); expected stage
CASES: dict[str, tuple[list[int], str]] = {
    "zero": ([], "zero"),
    "active_0": ([0], "active"),
    "active_60": ([60], "active"),
    "pre_61": ([61], "pre_churn"),
    "pre_120": ([120], "pre_churn"),
    "churn_121": ([121], "churn"),
    "churn_180": ([180], "churn"),
    "gone_181": ([181], "gone"),
    "first_ever_recent": ([5, 30], "active"),
    "returned_gap_121": ([10, 10 + 121], "returned"),
    "active_gap_120": ([10, 10 + 120], "active"),
    # p is the EARLIEST order inside the window: 200 -> 55 is a 145-day gap
    "returned_earliest_p": ([1, 55, 200], "returned"),
    "active_bridged": ([1, 55, 61, 200], "active"),
    "returned_border_60_61": ([60, 60 + 121], "returned"),
}


def test_every_stage_and_border(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    customers = [customer(cid) for cid in CASES]
    customers.append(customer("late", signup_at=datetime(2024, 5, 11, 0, 0)))
    orders = [
        order(f"{cid}-{i}", cid, ago(days))
        for cid, (ages, _) in CASES.items()
        for i, days in enumerate(ages)
    ]
    orders.append(order("cancelled", "zero", ago(3), status="cancelled"))
    orders.append(order("future", "zero", D + timedelta(days=1)))
    orders.append(order("late-1", "late", ago(1)))
    tables = make_tables(customers=customers, orders=orders)
    rows = compile_lifecycle(catalog, settings, tables, AS_OF).to_pyarrow().to_pylist()
    got = {row["customer_id"]: (row["stage"], row["days_since_last_purchase"]) for row in rows}
    expected = {cid: (stage, min(ages) if ages else None) for cid, (ages, stage) in CASES.items()}
    assert got == expected  # "late" signed up after as_of: not in the universe
    for cid, (ages, stage) in CASES.items():
        assert stage_python([ago(d) for d in ages], D, settings.lifecycle) == stage, cid


def test_lifecycle_metric_in_segments(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    tables = make_tables(
        customers=[customer("a"), customer("b"), customer("c")],
        orders=[order("1", "a", ago(3)), order("2", "b", ago(100))],
    )
    node = Metric(name="lifecycle", comparison=Comparison(op="in", value=("zero", "pre_churn")))
    expr = compile_segments({"s": node}, catalog, settings, tables, AS_OF)
    rows = {row["customer_id"]: row["s"] for row in expr.to_pyarrow().to_pylist()}
    assert rows == {"a": False, "b": True, "c": True}


@pytest.mark.parametrize("zone", ["Europe/Prague", "America/Los_Angeles"])
def test_as_of_local_date(zone: str, make_tables: MakeTables, catalog: Catalog) -> None:
    # 2024-05-10 23:30 UTC is 11 May in Prague, still 10 May in Los Angeles
    settings = WorkspaceSettings(timezone=zone)
    as_of = datetime(2024, 5, 10, 23, 30, tzinfo=UTC)
    tables = make_tables(customers=[customer("a")], orders=[order("1", "a", date(2024, 3, 11))])
    rows = compile_lifecycle(catalog, settings, tables, as_of).to_pyarrow().to_pylist()
    expected_days = 61 if zone == "Europe/Prague" else 60
    assert rows == [
        {
            "customer_id": "a",
            "stage": "pre_churn" if expected_days == 61 else "active",
            "days_since_last_purchase": expected_days,
        }
    ]
