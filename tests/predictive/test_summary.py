"""The BTYD summary computed in the engine: by hand on a few customers, and equal to lifetimes'
``summary_data_from_transaction_data`` on random shops (days and W-SUN weeks)."""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler.predictive import period_index
from segmentum.compiler.program import compile_btyd_holdout, compile_btyd_summary
from tests.compiler.conftest import AS_OF, D, MakeTables, customer, order


def rows(expr: Any) -> dict[str, dict[str, Any]]:
    return {row.pop("customer_id"): row for row in expr.to_pyarrow().to_pylist()}


def hand_shop() -> dict[str, list[Any]]:
    # D = 2024-05-10 is a Friday; its W-SUN week starts on Monday 2024-05-06.
    return {
        "customers": [customer(c) for c in ("a", "b", "c", "z", "late")]
        + [customer("future", signup_at=pd.Timestamp("2024-06-01").to_pydatetime())],
        "orders": [
            order("a1", "a", date(2024, 4, 1), "10.00"),  # Monday
            order("a2", "a", date(2024, 4, 1), "5.00"),  # same day and week: one period
            order("a3", "a", date(2024, 4, 3), "20.00"),  # Wednesday, same week
            order("a4", "a", date(2024, 4, 22), "30.00"),
            order("a5", "a", date(2024, 4, 23), "6.00", status="cancelled"),
            order("b1", "b", date(2024, 5, 10), "7.00"),  # first purchase on D: T = 0
            order("c1", "c", date(2024, 1, 7), "1.00"),  # a Sunday
            order("c2", "c", date(2024, 1, 8), "3.00"),  # the Monday after: next week
            order("late", "late", date(2024, 5, 11), "9.00"),  # after as_of: not yet
            order("f1", "future", date(2024, 5, 1), "9.00"),  # outside the universe
        ],
    }


def test_summary_by_hand_days(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    got = rows(compile_btyd_summary(catalog, settings, make_tables(**hand_shop()), AS_OF, "D"))
    assert got == {
        # periods 04-01 (15.00), 04-03 (20.00), 04-22 (30.00)
        "a": {"frequency": 2, "recency": 21, "T": 39, "monetary": 25.0},
        "b": {"frequency": 0, "recency": 0, "T": 0, "monetary": 0.0},
        "c": {"frequency": 1, "recency": 1, "T": 124, "monetary": 3.0},
    }


def test_summary_by_hand_weeks(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    got = rows(compile_btyd_summary(catalog, settings, make_tables(**hand_shop()), AS_OF, "W"))
    assert got == {
        # weeks of 04-01 (35.00) and 04-22 (30.00); D's week starts 05-06
        "a": {"frequency": 1, "recency": 3, "T": 5, "monetary": 30.0},
        "b": {"frequency": 0, "recency": 0, "T": 0, "monetary": 0.0},
        "c": {"frequency": 1, "recency": 1, "T": 18, "monetary": 3.0},
    }
    assert period_index(date(2024, 5, 12), "W") == period_index(date(2024, 5, 6), "W")
    assert period_index(date(2024, 5, 13), "W") == period_index(date(2024, 5, 6), "W") + 1


def random_shop(seed: int, customers: int = 250) -> dict[str, list[Any]]:
    rng = np.random.default_rng(seed)
    start = D - timedelta(days=500)
    orders = []
    for index in range(customers):
        cid = f"k{index:04d}"
        count = int(rng.integers(1, 12))
        first = int(rng.integers(0, 500))
        for number in range(count):
            day = start + timedelta(days=first + int(rng.integers(0, 520 - first)))
            cents = int(rng.integers(100, 50_000))
            status = "cancelled" if rng.random() < 0.05 else None
            orders.append(order(f"{cid}-{number}", cid, day, f"{cents / 100:.2f}", status=status))
    return {"customers": [customer(f"k{i:04d}") for i in range(customers)], "orders": orders}


def lifetimes_summary(utils: ModuleType, shop: dict[str, list[Any]], freq: str) -> pd.DataFrame:
    """lifetimes on the same purchases: live orders up to D, by local date."""
    live = [
        {
            "id": o["customer_id"],
            "date": pd.Timestamp(o["local_date"]),
            "amount": float(o["amount"]),
        }
        for o in shop["orders"]
        if o.get("status") != "cancelled" and o["local_date"] <= D
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame: pd.DataFrame = utils.summary_data_from_transaction_data(
            pd.DataFrame(live),
            "id",
            "date",
            monetary_value_col="amount",
            observation_period_end=pd.Timestamp(D),
            freq=freq,
        )
    return frame


@pytest.mark.parametrize("period", ["D", "W"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summary_equals_lifetimes(
    catalog: Catalog,
    settings: WorkspaceSettings,
    make_tables: MakeTables,
    lifetimes_utils: ModuleType,
    period: str,
    seed: int,
) -> None:
    shop = random_shop(seed)
    got = rows(compile_btyd_summary(catalog, settings, make_tables(**shop), AS_OF, period))
    expected = lifetimes_summary(lifetimes_utils, shop, period)
    assert sorted(got) == sorted(str(index) for index in expected.index)
    for cid, row in expected.iterrows():
        mine = got[str(cid)]
        assert (mine["frequency"], mine["recency"], mine["T"]) == (
            row["frequency"],
            row["recency"],
            row["T"],
        ), cid
        assert mine["monetary"] == pytest.approx(row["monetary_value"], rel=1e-12, abs=1e-9)


def test_holdout_counts_purchase_periods_after_calibration(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    shop = hand_shop()
    shop["orders"].append(order("c3", "c", date(2024, 5, 20), "1.00"))
    shop["orders"].append(order("c4", "c", date(2024, 5, 20), "2.00"))
    shop["orders"].append(order("c5", "c", date(2024, 5, 25), "2.00"))
    shop["orders"].append(order("n1", "z", date(2024, 5, 21), "2.00"))  # new: not calibrated
    end = AS_OF + timedelta(days=30)
    got = rows(compile_btyd_holdout(catalog, settings, make_tables(**shop), AS_OF, end, "D"))
    assert got["c"]["frequency_holdout"] == 2
    assert got["a"]["frequency_holdout"] == 0
    assert "z" not in got
    assert "late" not in got
    # "late" first bought on 2024-05-11, after the calibration end: not calibrated either
    assert {cid: r["frequency_holdout"] for cid, r in got.items()} == {"a": 0, "b": 0, "c": 2}
    assert {r["duration_holdout"] for r in got.values()} == {30}
