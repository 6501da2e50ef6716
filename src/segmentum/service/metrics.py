"""Lifecycle and RFM use cases: per-customer tables and their summaries, computed in the engine."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import ibis

from segmentum.compiler import compile_customer_metrics, compile_lifecycle
from segmentum.service.clock import resolve_as_of
from segmentum.service.workspace import Workspace

LIFECYCLE_STAGES: tuple[str, ...] = ("zero", "active", "returned", "pre_churn", "churn", "gone")


def lifecycle_table(ws: Workspace, as_of: date | None) -> tuple[ibis.Table, datetime]:
    instant = resolve_as_of(as_of, ws.settings.timezone)
    return compile_lifecycle(ws.catalog, ws.settings, ws.tables(), instant), instant


def lifecycle_counts(ws: Workspace, as_of: date | None) -> list[dict[str, Any]]:
    table, _ = lifecycle_table(ws, as_of)
    counted = table.group_by("stage").aggregate(customers=table.count()).to_pyarrow().to_pylist()
    by_stage = {row["stage"]: int(row["customers"]) for row in counted}
    total = sum(by_stage.values())
    return [
        {
            "stage": stage,
            "customers": by_stage.get(stage, 0),
            "share": round(by_stage.get(stage, 0) / total, 4) if total else 0.0,
        }
        for stage in LIFECYCLE_STAGES
    ]


RFM_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_group",
)


def customer_metrics_table(
    ws: Workspace, as_of: date | None, preset: str | None
) -> tuple[ibis.Table, datetime]:
    """RFM and lifecycle of every customer in one query (RFM columns NULL without orders)."""
    instant = resolve_as_of(as_of, ws.settings.timezone)
    table = compile_customer_metrics(ws.catalog, ws.settings, ws.tables(), instant, preset)
    return table, instant


def rfm_table(ws: Workspace, as_of: date | None, preset: str | None) -> tuple[ibis.Table, datetime]:
    """Scored customers only: the RFM columns of :func:`customer_metrics_table`."""
    table, instant = customer_metrics_table(ws, as_of, preset)
    return table.filter(table.r_score.notnull()).select(*RFM_COLUMNS), instant


def rfm_summary(
    ws: Workspace, as_of: date | None, preset: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The R×F grid (customers, revenue share) and the customers per named group."""
    table, _ = rfm_table(ws, as_of, preset)
    grid = (
        table.group_by(["r_score", "f_score"])
        .aggregate(customers=table.count(), revenue=table.monetary.sum())
        .order_by([ibis.desc("r_score"), ibis.desc("f_score")])
        .to_pyarrow()
        .to_pylist()
    )
    total_revenue = sum((Decimal(row["revenue"] or 0) for row in grid), Decimal(0))
    grid_rows = [
        {
            "r_score": row["r_score"],
            "f_score": row["f_score"],
            "customers": int(row["customers"]),
            "revenue_share": round(float(Decimal(row["revenue"] or 0) / total_revenue), 4)
            if total_revenue
            else 0.0,
        }
        for row in grid
    ]
    groups = (
        table.group_by("rfm_group")
        .aggregate(customers=table.count(), revenue=table.monetary.sum())
        .order_by([ibis.desc("customers"), "rfm_group"])
        .to_pyarrow()
        .to_pylist()
    )
    group_rows = [
        {
            "rfm_group": row["rfm_group"],
            "customers": int(row["customers"]),
            "revenue": row["revenue"],
        }
        for row in groups
    ]
    return grid_rows, group_rows
