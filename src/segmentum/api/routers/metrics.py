"""Lifecycle and RFM summaries, the dashboard's numbers, the segment report (sizes over time,
transitions, cohorts) and the tables' row counts."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.encoders import jsonable_encoder

from segmentum.api.access import Viewer
from segmentum.api.calls import call
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import browse, customers, dashboard, metrics, reports
from segmentum.service.clock import now_utc

router = APIRouter(prefix="/api", tags=["metrics"])
#: The longest segment report, in days (about ten years).
MAX_REPORT_DAYS = 3660
AsOf = Annotated[date | None, Query(description="the end of this day (default: now)")]


@router.get("/lifecycle", responses=error_responses(400, 401))
async def lifecycle(server: ServerDep, who: Viewer, as_of: AsOf = None) -> list[dict[str, Any]]:
    """Customers per lifecycle stage (zero, active, returned, pre_churn, churn, gone)."""
    rows: list[dict[str, Any]] = jsonable_encoder(
        await call(server, lambda ws: metrics.lifecycle_counts(ws, as_of))
    )
    return rows


@router.get("/rfm", responses=error_responses(400, 401))
async def rfm(
    server: ServerDep,
    who: Viewer,
    as_of: AsOf = None,
    preset: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_]+$")] = None,
) -> dict[str, Any]:
    """The R×F grid (customers, revenue share) and customers per named RFM group."""
    if preset is not None and preset not in browse.rfm_presets():
        raise HTTPException(
            400, f"unknown RFM preset {preset!r}; known: {', '.join(browse.rfm_presets())}"
        )
    grid, groups = await call(server, lambda ws: metrics.rfm_summary(ws, as_of, preset))
    result: dict[str, Any] = jsonable_encoder({"grid": grid, "groups": groups})
    return result


@router.get("/dashboard", responses=error_responses(401))
async def dashboard_summary(
    server: ServerDep,
    who: Viewer,
    refresh: Annotated[bool, Query(description="recompute the cached counts")] = False,
) -> dict[str, Any]:
    """Base size, sendable per channel, lifecycle, RFM grid, largest segments, recent
    campaigns (cached; see docs/web.md)."""
    result: dict[str, Any] = jsonable_encoder(
        await call(server, lambda ws: dashboard.dashboard(ws, refresh))
    )
    return result


@router.get("/reports/segments", responses=error_responses(400, 401, 422))
async def segment_report(
    server: ServerDep,
    who: Viewer,
    date_from: Annotated[
        date | None, Query(alias="from", description="first day (default: 30 days before to)")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="last day (default: today)")
    ] = None,
) -> dict[str, Any]:
    """Segment sizes per day from the membership log, lifecycle and RFM transitions between
    the two days (at most ``MAX_REPORT_DAYS`` apart), cohort retention by signup month
    (`segmentum report segments`)."""
    last = date_to or now_utc().date()
    if date_from is not None and (last - date_from).days > MAX_REPORT_DAYS:
        # one row per segment and day: a range of centuries would take minutes to answer
        raise HTTPException(400, f"the report covers at most {MAX_REPORT_DAYS} days")
    result: dict[str, Any] = jsonable_encoder(
        await call(server, lambda ws: reports.report_segments(ws, date_from, date_to).as_dict())
    )
    return result


@router.get("/stats", responses=error_responses(401))
async def table_stats(server: ServerDep, who: Viewer) -> list[dict[str, Any]]:
    """Every table's row count and the first and last instant of its time column."""
    rows: list[dict[str, Any]] = jsonable_encoder(await call(server, customers.table_stats))
    return rows
