"""Lifecycle stages from the last order's local date (docs/segment-semantics.md, Lifecycle)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis

from segmentum.catalog.settings import LifecycleSettings

STAGES: tuple[str, ...] = ("zero", "active", "returned", "pre_churn", "churn", "gone")


def stage_expr(
    last: Any, previous: Any, first_recent: Any, today: date, thresholds: LifecycleSettings
) -> Any:
    """The stage as an Ibis string expression.

    ``last``: local date of the last order (NULL: none); ``previous`` (q): the latest order date
    with days_ago > active_days; ``first_recent`` (p): the earliest with days_ago <=
    active_days. Day thresholds become date literals computed here, so the engine only
    compares dates; only ``p − q`` is an engine date difference.
    """
    active_from = today - timedelta(days=thresholds.active_days)
    pre_churn_from = today - timedelta(days=thresholds.pre_churn_days)
    churn_from = today - timedelta(days=thresholds.churn_days)
    gap = first_recent.delta(previous, unit="day")
    returned = previous.notnull() & (gap > thresholds.returned_gap_days).fill_null(False)
    return ibis.cases(
        (last.isnull(), "zero"),
        ((last >= active_from) & returned, "returned"),
        (last >= active_from, "active"),
        (last >= pre_churn_from, "pre_churn"),
        (last >= churn_from, "churn"),
        else_="gone",
    )


def stage_python(orders: list[date], today: date, thresholds: LifecycleSettings) -> str:
    """Python twin of :func:`stage_expr` over a customer's order dates (tests, docs)."""
    if not orders:
        return "zero"
    days = (today - max(orders)).days
    if days <= thresholds.active_days:
        older = [d for d in orders if (today - d).days > thresholds.active_days]
        recent = [d for d in orders if (today - d).days <= thresholds.active_days]
        if older and (min(recent) - max(older)).days > thresholds.returned_gap_days:
            return "returned"
        return "active"
    if days <= thresholds.pre_churn_days:
        return "pre_churn"
    if days <= thresholds.churn_days:
        return "churn"
    return "gone"
