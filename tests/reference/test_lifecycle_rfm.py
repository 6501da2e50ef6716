"""Lifecycle and RFM of the reference evaluator, exactly, on the shop and on tiny shops.

RFM at AS_OF (D = 2024-05-15), 28 scored customers, k = 5: position i scores
max(1, ceil(5 i / 27)), so positions 0-5 score 1, 6-10 2, 11-16 3, 17-21 4, 22-27 5.

R (recency descending, ties by id): c09 c08 c07 c06 c05 c04 | c17 c16 c30 c03 c02 |
c37 c38 c31 c32 c21 c22 | c25 c10 c29 c26 c01 | c12 c20 c19 c11 c35 c36
(c01 and c12 both 5 days: c01 at position 21 scores 4, c12 at 22 scores 5).
F (1 order by id, then c10 c30 with 2, then c01 c11 c12 c37 c38 with 3).
M (ascending, ties by id): c21 c35 c06 c07 c19 c20 | c16 c17 c02 c03 c12 | c25 c26 c11 c37
c04 c05 | c08 c09 c10 c31 c32 | c22 c38 c36 c30 c29 c01 (120.00 splits c12 | c25 c26).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from segmentum.catalog.settings import LifecycleSettings, RfmRule, RfmSettings, WorkspaceSettings
from segmentum.engine.reference import RFM_PRESETS, reference_lifecycle, reference_rfm
from tests.corpus.shop import AS_OF, AS_OF_DST, BUYERS, CATALOG, DATA, NO_ORDERS, SETTINGS, UNIVERSE

RFM_SCORES: dict[str, tuple[int, int, int]] = {
    "c01": (4, 5, 5), "c02": (2, 1, 2), "c03": (2, 1, 2), "c04": (1, 1, 3), "c05": (1, 1, 3),
    "c06": (1, 1, 1), "c07": (1, 1, 1), "c08": (1, 2, 4), "c09": (1, 2, 4), "c10": (4, 4, 4),
    "c11": (5, 5, 3), "c12": (5, 5, 2), "c16": (2, 2, 2), "c17": (2, 2, 2), "c19": (5, 2, 1),
    "c20": (5, 3, 1), "c21": (3, 3, 1), "c22": (3, 3, 5), "c25": (4, 3, 3), "c26": (4, 3, 3),
    "c29": (4, 3, 5), "c30": (2, 5, 5), "c31": (3, 4, 4), "c32": (3, 4, 4), "c35": (5, 4, 1),
    "c36": (5, 4, 5), "c37": (3, 5, 3), "c38": (3, 5, 5),
}  # fmt: skip

LIFECYCLE: dict[str, tuple[str, int | None]] = {
    "c01": ("active", 5), "c02": ("active", 30), "c03": ("active", 31), "c04": ("active", 60),
    "c05": ("pre_churn", 61), "c06": ("pre_churn", 120), "c07": ("churn", 121),
    "c08": ("churn", 180), "c09": ("gone", 181), "c10": ("returned", 10),
    "c11": ("active", 2), "c12": ("returned", 5), "c16": ("active", 45), "c17": ("active", 46),
    "c19": ("active", 3), "c20": ("active", 4), "c21": ("active", 13), "c22": ("active", 13),
    "c25": ("active", 11), "c26": ("active", 6), "c29": ("active", 7), "c30": ("active", 40),
    "c31": ("active", 14), "c32": ("active", 14), "c35": ("active", 1), "c36": ("active", 0),
    "c37": ("active", 25), "c38": ("active", 15),
    **dict.fromkeys(NO_ORDERS, ("zero", None)),
}  # fmt: skip


def test_lifecycle_on_the_shop() -> None:
    assert reference_lifecycle(DATA, CATALOG, SETTINGS, AS_OF) == LIFECYCLE


def test_lifecycle_covers_the_universe_only() -> None:
    assert set(reference_lifecycle(DATA, CATALOG, SETTINGS, AS_OF)) == UNIVERSE


def test_lifecycle_at_the_dst_instant() -> None:
    # D = 2024-03-31: c16's order (00:30 local) is today, c17's (23:30 local) yesterday
    stages = reference_lifecycle(DATA, CATALOG, SETTINGS, AS_OF_DST)
    assert stages["c16"] == ("active", 0)
    assert stages["c17"] == ("active", 1)
    assert stages["c01"] == ("zero", None)  # its 2024-03-31 order is 10:00 UTC, after as_of
    assert "c03" not in stages  # signs up 2024-04-20


def test_lifecycle_thresholds_come_from_settings() -> None:
    settings = SETTINGS.model_copy(
        update={"lifecycle": LifecycleSettings(active_days=30, pre_churn_days=60, churn_days=90)}
    )
    stages = reference_lifecycle(DATA, CATALOG, settings, AS_OF)
    assert stages["c02"] == ("active", 30)
    assert stages["c03"] == ("pre_churn", 31)
    assert stages["c04"] == ("pre_churn", 60)
    assert stages["c05"] == ("churn", 61)
    assert stages["c06"] == ("gone", 120)
    # p is the *earliest* order with days_ago <= 30: c11 p = 30, q = 150 days ago: gap 120
    assert stages["c11"] == ("active", 2)
    assert stages["c12"] == ("returned", 5)  # p = 30, q = 151: gap 121


def test_rfm_values_on_the_shop() -> None:
    rfm = reference_rfm(DATA, CATALOG, SETTINGS, AS_OF)
    assert set(rfm) == UNIVERSE
    assert {
        c: (r["r_score"], r["f_score"], r["m_score"]) for c, r in rfm.items() if c in BUYERS
    } == (RFM_SCORES)
    assert rfm["c01"]["recency_days"] == 5
    assert rfm["c01"]["frequency"] == 3
    assert rfm["c01"]["monetary"] == Decimal("2500.00")
    assert rfm["c38"]["frequency"] == 3  # its cancelled order does not count
    assert rfm["c38"]["monetary"] == Decimal("400.00")
    for customer_id in NO_ORDERS:
        assert rfm[customer_id] == {
            "recency_days": None,
            "frequency": 0,
            "monetary": Decimal("0.00"),
            "r_score": None,
            "f_score": None,
            "m_score": None,
            "rfm_group": None,
        }


def test_days_since_last_purchase_equals_recency_days() -> None:
    lifecycle = reference_lifecycle(DATA, CATALOG, SETTINGS, AS_OF)
    rfm = reference_rfm(DATA, CATALOG, SETTINGS, AS_OF)
    assert {c: days for c, (_, days) in lifecycle.items()} == {
        c: row["recency_days"] for c, row in rfm.items()
    }


def _group(preset: str, r: int, f: int, m: int) -> str:
    for rule in RFM_PRESETS[preset]:
        if all(
            bounds is None or bounds[0] <= score <= bounds[1]
            for score, bounds in ((r, rule.r), (f, rule.f), (m, rule.m))
        ):
            return rule.name
    return "Others"


@pytest.mark.parametrize("preset", ["ranges", "grid", "four"])
def test_rfm_groups_follow_the_scores(preset: str) -> None:
    rfm = reference_rfm(DATA, CATALOG, SETTINGS, AS_OF, preset=preset)
    assert {c: rfm[c]["rfm_group"] for c in BUYERS} == {
        c: _group(preset, *scores) for c, scores in RFM_SCORES.items()
    }


def test_rfm_preset_spot_checks() -> None:
    ranges = reference_rfm(DATA, CATALOG, SETTINGS, AS_OF)
    grid = reference_rfm(DATA, CATALOG, SETTINGS, AS_OF, preset="grid")
    four = reference_rfm(DATA, CATALOG, SETTINGS, AS_OF, preset="four")
    assert ranges["c35"]["rfm_group"] == "Others"
    assert ranges["c08"]["rfm_group"] == "At Risk"
    assert grid["c30"]["rfm_group"] == "Can't Lose Them"
    assert grid["c21"]["rfm_group"] == "Need Attention"
    assert four["c30"]["rfm_group"] == "potentially lost"


def test_workspace_groups_replace_the_preset() -> None:
    settings = SETTINGS.model_copy(
        update={"rfm": RfmSettings(groups=(RfmRule(name="Top", r=(5, 5)), RfmRule(name="Rest")))}
    )
    rfm = reference_rfm(DATA, CATALOG, settings, AS_OF)
    assert {c for c, row in rfm.items() if row["rfm_group"] == "Top"} == {
        c for c, scores in RFM_SCORES.items() if scores[0] == 5
    }
    assert {c for c, row in rfm.items() if row["rfm_group"] == "Rest"} == {
        c for c, scores in RFM_SCORES.items() if scores[0] != 5
    }
    # an explicit preset (a Metric's) names a preset table, not the workspace's own
    assert reference_rfm(DATA, CATALOG, settings, AS_OF, preset="four")["c30"]["rfm_group"] == (
        "potentially lost"
    )


def _tiny_shop(amounts_by_customer: dict[str, list[tuple[int, str]]]) -> dict[str, list[Any]]:
    """Customers with orders (days before 2024-05-15, amount)."""
    base = datetime(2024, 5, 15, 10)
    return {
        "customers": [{"customer_id": c, "signup_at": None} for c in amounts_by_customer],
        "orders": [
            {
                "order_id": f"{c}-{n}",
                "customer_id": c,
                "ordered_at": base - timedelta(days=days),
                "amount": Decimal(amount),
                "status": None,
            }
            for c, orders in amounts_by_customer.items()
            for n, (days, amount) in enumerate(orders)
        ],
    }


def test_rfm_single_customer_scores_1() -> None:
    data = _tiny_shop({"solo": [(3, "10.00")]})
    row = reference_rfm(data, CATALOG, SETTINGS, AS_OF)["solo"]
    assert (row["r_score"], row["f_score"], row["m_score"]) == (1, 1, 1)
    assert row["rfm_group"] == "Lost"


def test_rfm_two_customers_and_three_bins() -> None:
    data = _tiny_shop({"a": [(3, "10.00")], "b": [(3, "10.00")], "c": [(1, "5.00"), (9, "5.00")]})
    settings = SETTINGS.model_copy(update={"rfm": RfmSettings(bins=3)})
    rfm = reference_rfm(data, CATALOG, settings, AS_OF)
    # R: a (3 days), b (3 days), c (1 day) -> positions 0, 1, 2 -> 1, ceil(3/2) = 2, 3
    assert [rfm[c]["r_score"] for c in "abc"] == [1, 2, 3]
    # F: a 1, b 1, c 2 -> 1, 2, 3; M: all 10.00 -> by id
    assert [rfm[c]["f_score"] for c in "abc"] == [1, 2, 3]
    assert [rfm[c]["m_score"] for c in "abc"] == [1, 2, 3]


def test_rfm_ids_rank_in_byte_order() -> None:
    # "B" (0x42) < "a" (0x61) in byte order, whatever a locale would say
    data = _tiny_shop({"a": [(3, "10.00")], "B": [(3, "10.00")]})
    rfm = reference_rfm(data, CATALOG, SETTINGS, AS_OF)
    assert (rfm["B"]["m_score"], rfm["a"]["m_score"]) == (1, 5)


def _pandas_scores(values: dict[str, Any], bins: int) -> dict[str, int]:
    frame = pd.DataFrame({"customer_id": sorted(values)})
    frame["x"] = [values[c] for c in frame["customer_id"]]
    ranks = frame["x"].rank(method="first")
    frame["score"] = pd.qcut(ranks, bins, labels=list(range(1, bins + 1))).astype(int)
    return dict(zip(frame["customer_id"], frame["score"], strict=True))


@pytest.mark.parametrize("seed", range(25))
def test_scores_equal_pandas_qcut_of_first_ranks(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(2, 40)
    bins = rng.choice([3, 4, 5])
    shop: dict[str, list[tuple[int, str]]] = {}
    for number in range(n):
        customer_id = f"k{rng.randint(0, 999):03d}-{number}"
        shop[customer_id] = [
            (rng.randint(0, 20), f"{rng.choice([5, 10, 20, 40])}.00")
            for _ in range(rng.randint(1, 3))
        ]
    data = _tiny_shop(shop)
    settings = WorkspaceSettings(timezone="Europe/Prague", rfm=RfmSettings(bins=bins))
    rfm = reference_rfm(data, CATALOG, settings, datetime(2024, 5, 15, 21, 59, tzinfo=UTC))
    recency = {c: -row["recency_days"] for c, row in rfm.items()}
    frequency = {c: row["frequency"] for c, row in rfm.items()}
    monetary = {c: float(row["monetary"]) for c, row in rfm.items()}
    assert {c: row["r_score"] for c, row in rfm.items()} == _pandas_scores(recency, bins)
    assert {c: row["f_score"] for c, row in rfm.items()} == _pandas_scores(frequency, bins)
    assert {c: row["m_score"] for c, row in rfm.items()} == _pandas_scores(monetary, bins)
