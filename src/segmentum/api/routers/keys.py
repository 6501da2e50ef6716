"""API keys over REST (admin): list, create (the key is shown once), revoke."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from segmentum.api.access import Admin
from segmentum.api.calls import call, record
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import keys

router = APIRouter(prefix="/api/keys", tags=["api keys"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["read", "ingest", "marketer", "admin"] = Field(examples=["read"])
    name: str | None = Field(None, max_length=200, examples=["BI dashboard"])


@router.get("", responses=error_responses(401, 403))
async def list_keys(server: ServerDep, who: Admin) -> list[dict[str, Any]]:
    """Every key (id, name, scope, created, revoked); never the key or its hash."""
    rows: list[dict[str, Any]] = jsonable_encoder(await call(server, keys.list_keys))
    return rows


@router.post("", status_code=201, responses=error_responses(400, 401, 403, 422))
async def create_key(body: KeyIn, server: ServerDep, who: Admin) -> dict[str, Any]:
    """A new key: ``key`` is in this answer only, never again."""

    def run(ws: Any) -> dict[str, Any]:
        created = keys.create_key(ws, body.scope, body.name)
        record(ws, who, "create", "api_key", created.key_id, {"scope": body.scope})
        return {
            "key_id": created.key_id,
            "scope": created.scope,
            "name": created.name,
            "key": created.key,
        }

    return await call(server, run)


@router.delete("/{key_id}", status_code=204, responses=error_responses(400, 401, 403, 404))
async def revoke_key(key_id: str, server: ServerDep, who: Admin) -> Response:
    def run(ws: Any) -> None:
        keys.revoke_key(ws, key_id)
        record(ws, who, "revoke", "api_key", key_id)

    await call(server, run)
    return Response(status_code=204)
