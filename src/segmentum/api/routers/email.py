"""E-mail provider webhooks: hard bounces, complaints and unsubscribes (signed bodies)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from segmentum.api.deps import ServerDep

router = APIRouter(prefix="/webhooks/email", tags=["email webhooks"])


@router.post("/events")
async def event(request: Request, server: ServerDep) -> dict[str, Any]:
    """``{"type": "hard_bounce" | "complaint" | "unsubscribe", "email": ...}``."""
    body = await request.body()
    result: dict[str, Any] = await run_in_threadpool(
        server.email_event, body, dict(request.headers)
    )
    return result
