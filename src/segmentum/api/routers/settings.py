"""Workspace settings: read (any role), change one dotted key or several (admin), and check
the warehouse mapping against the live schema (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from segmentum.api.access import Admin, Viewer
from segmentum.api.calls import call, record
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import dashboard, warehouse
from segmentum.service import settings as settings_service

router = APIRouter(prefix="/api/settings", tags=["settings"])


class SettingsChange(BaseModel):
    """Dotted keys and their new values (JSON values; strings as they are)."""

    model_config = ConfigDict(extra="forbid")
    values: dict[str, Any] = Field(
        min_length=1, max_length=50, examples=[{"lifecycle.active_days": 120}]
    )


@router.get("", responses=error_responses(401))
async def show(server: ServerDep, who: Viewer) -> dict[str, Any]:
    return await call(server, settings_service.show_settings)


@router.patch("", responses=error_responses(400, 401, 403, 422))
async def change(body: SettingsChange, server: ServerDep, who: Admin) -> dict[str, Any]:
    """Set each key in turn; the first invalid one stops the change with its reason."""
    import json

    def run(ws: Any) -> dict[str, Any]:
        for key, value in body.values.items():
            raw = value if isinstance(value, str) else json.dumps(value)
            settings_service.set_setting(ws, key, raw)
        dashboard.clear_cache(ws)
        record(ws, who, "update", "settings", "workspace", {"keys": sorted(body.values)})
        return settings_service.show_settings(ws)

    return await call(server, run)


@router.get("/check", responses=error_responses(400, 401, 403))
async def check(
    server: ServerDep,
    who: Admin,
    schema_only: Annotated[
        bool, Query(description="compare schemas only; skip the NULL and duplicate key scan")
    ] = False,
) -> dict[str, Any]:
    """The warehouse mapping against the live schema: ``ok``, every problem, and each catalog
    table with its source (`segmentum workspace check`)."""
    result: dict[str, Any] = jsonable_encoder(
        await call(server, lambda ws: warehouse.check_workspace(ws, data=not schema_only).as_dict())
    )
    return result
