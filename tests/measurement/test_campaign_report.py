"""The campaign report on the hand-built scenario: every column against the oracle, every
statistic against SciPy's own computation on the per-recipient values."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from segmentum.service import reports
from segmentum.service.membership import refresh_segments
from segmentum.service.workspace import Workspace
from tests.measurement.scenario import Scenario, build, oracle

COUNTS = (
    "audience", "eligible", "held_out", "treated", "sent", "delivered", "failed", "skipped",
    "skipped_no_address", "skipped_no_consent", "clicked", "unsubscribed", "converted",
    "attributed_orders", "sms_segments",
)  # fmt: skip


@pytest.fixture
def scenario(workspace: Workspace, tmp_path: Path) -> Scenario:
    return build(workspace, str(tmp_path))


def test_rows_come_in_segment_then_arm_order(workspace: Workspace, scenario: Scenario) -> None:
    report = reports.report_campaign(workspace, "spring")
    keys = [(row["segment"], row["arm"]) for row in report.rows]
    assert keys == [
        ("vip", "a"), ("vip", "b"), ("vip", "generic"), ("vip", "*"),
        ("regular", "default"), ("regular", "generic"), ("regular", "*"),
        ("*", "generic"), ("*", "*"),
    ]  # fmt: skip


def test_every_count_and_sum_matches_the_oracle(workspace: Workspace, scenario: Scenario) -> None:
    report = reports.report_campaign(workspace, "spring")
    expected = oracle(scenario)
    for row in report.rows:
        want = expected[(row["segment"], row["arm"])]
        for name in COUNTS:
            assert row[name] == want.get(name, 0), (row["segment"], row["arm"], name)
        assert row["revenue"] == want.get("revenue", Decimal(0))
        assert row["attributed_revenue"] == want.get("attributed_revenue", Decimal(0))
        assert row["cost"] == want["cost"]
        assert row["pending"] == 0
        treated = want["treated"]
        assert row["conversion_rate"] == (want.get("converted", 0) / treated if treated else None)
        assert row["revenue_per_recipient"] == (
            float(want.get("revenue", 0)) / treated if treated else None
        )
        cost = want["cost"]
        assert row["roi"] == (
            float((want.get("attributed_revenue", Decimal(0)) - cost) / cost) if cost else None
        )


def test_the_scenario_has_every_kind_of_recipient(workspace: Workspace, scenario: Scenario) -> None:
    total = reports.report_campaign(workspace, "spring").row("*", "*")
    assert total["audience"] == 59  # C0059 is in no segment
    assert total["skipped_no_consent"] == 2
    assert total["skipped_no_address"] == 1
    assert total["held_out"] > 0
    assert total["failed"] > 0
    assert total["delivered"] > 0
    assert total["treated"] == total["eligible"] - total["held_out"]
    assert total["sent"] == total["delivered"] + total["failed"]
    assert total["sms_segments"] == total["sent"]
    assert total["cost"] == Decimal("0.05") * total["sent"]
    generic = reports.report_campaign(workspace, "spring").row("*", "generic")
    assert generic["held_out"] == 0
    assert generic["treated"] > 0


def test_customers_who_left_the_segment_still_count(
    workspace: Workspace, scenario: Scenario
) -> None:
    before = reports.report_campaign(workspace, "spring").rows
    con = workspace.engine.backend.con  # type: ignore[attr-defined]
    con.execute("UPDATE customers SET tags = [] WHERE customer_id IN ('C0001', 'C0003')")
    refresh_segments(workspace)
    assert reports.report_campaign(workspace, "spring").rows == before


def _reference_tests(want: dict[str, Any], holdout: dict[str, Any]) -> dict[str, float]:
    x1, n1 = want.get("converted", 0), want["treated"]
    x0, n0 = holdout.get("holdout_converted", 0), holdout["held_out"]
    p1, p0 = x1 / n1, x0 / n0
    z975 = stats.norm.ppf(0.975)
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pooled = (x1 + x0) / (n1 + n0)
    z = (p1 - p0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    welch = stats.ttest_ind(
        np.array(want["revenues_treated"]), np.array(holdout["revenues_holdout"]),
        equal_var=False,
    )  # fmt: skip
    interval = welch.confidence_interval(0.95)
    return {
        "uplift_pp": 100 * (p1 - p0),
        "uplift_pp_low": 100 * (p1 - p0 - z975 * se),
        "uplift_pp_high": 100 * (p1 - p0 + z975 * se),
        "z": z,
        "p_value": 2 * stats.norm.sf(abs(z)),
        "rpr_difference": float(np.mean(want["revenues_treated"]))
        - float(np.mean(holdout["revenues_holdout"])),
        "welch_t": float(welch.statistic),
        "welch_df": float(welch.df),
        "welch_p_value": float(welch.pvalue),
        "rpr_difference_low": float(interval.low),
        "rpr_difference_high": float(interval.high),
    }


def test_statistics_match_scipy(workspace: Workspace, scenario: Scenario) -> None:
    report = reports.report_campaign(workspace, "spring")
    expected = oracle(scenario)
    checked = 0
    for row in report.rows:
        key = (row["segment"], row["arm"])
        holdout_key = ("*", "*") if row["segment"] == "*" else (row["segment"], "*")
        want, holdout = expected[key], expected[holdout_key]
        assert row["holdout_n"] == holdout["held_out"]
        assert row["holdout_converted"] == holdout["holdout_converted"]
        reference = _reference_tests(want, holdout)
        for name, value in reference.items():
            assert row[name] == pytest.approx(value, rel=1e-9, abs=1e-12), (key, name)
        checked += 1
    assert checked == 9


def test_relative_uplift_is_the_log_ratio_wald_interval(
    workspace: Workspace, scenario: Scenario
) -> None:
    row = reports.report_campaign(workspace, "spring").row("*", "*")
    want = oracle(scenario)[("*", "*")]
    x1, n1, x0, n0 = want["converted"], want["treated"], want["holdout_converted"], want["held_out"]
    p1, p0 = x1 / n1, x0 / n0
    se = math.sqrt((1 - p1) / x1 + (1 - p0) / x0)
    z975 = stats.norm.ppf(0.975)
    assert row["relative_uplift"] == pytest.approx(p1 / p0 - 1, rel=1e-12)
    assert row["relative_uplift_low"] == pytest.approx(
        math.exp(math.log(p1 / p0) - z975 * se) - 1, rel=1e-12
    )
    assert row["relative_uplift_high"] == pytest.approx(
        math.exp(math.log(p1 / p0) + z975 * se) - 1, rel=1e-12
    )
