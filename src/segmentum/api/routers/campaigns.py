"""Read-only campaign views: the list and one campaign's status (ledger counts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from starlette.concurrency import run_in_threadpool

from segmentum.api.deps import ServerDep
from segmentum.service import campaigns as campaign_service

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


@router.get("")
async def list_campaigns(server: ServerDep) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        with server.locked() as ws:
            return campaign_service.list_campaigns(ws)

    rows: list[dict[str, Any]] = jsonable_encoder(await run_in_threadpool(read))
    return rows


@router.get("/{campaign_id}")
async def campaign_status(campaign_id: str, server: ServerDep) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with server.locked() as ws:
            return campaign_service.status(ws, campaign_id)

    document: dict[str, Any] = jsonable_encoder(await run_in_threadpool(read))
    return document
