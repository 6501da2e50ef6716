"""SMS gateway webhooks: delivery receipts and inbound replies (signed bodies)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from segmentum.api.deps import ServerDep

router = APIRouter(prefix="/webhooks/sms", tags=["sms webhooks"])


@router.post("/receipts")
async def receipt(request: Request, server: ServerDep) -> dict[str, Any]:
    """Sent → delivered / failed, by provider message id or idempotency key."""
    body = await request.body()
    result: dict[str, Any] = await run_in_threadpool(
        server.sms_receipt, body, dict(request.headers)
    )
    return result


@router.post("/inbound")
async def inbound(request: Request, server: ServerDep) -> dict[str, Any]:
    """An inbound SMS; STOP & co. opt out; ``reply`` is the (single) confirmation text."""
    body = await request.body()
    result: dict[str, Any] = await run_in_threadpool(
        server.sms_inbound, body, dict(request.headers)
    )
    return result
