"""Lifecycle and RFM summaries, and the dashboard's numbers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.encoders import jsonable_encoder

from segmentum.api.access import Viewer
from segmentum.api.calls import call
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import browse, dashboard, metrics

router = APIRouter(prefix="/api", tags=["metrics"])
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
