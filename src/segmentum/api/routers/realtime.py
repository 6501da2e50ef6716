"""`GET /v1/realtime`: real-time membership status (micro-batches, commit → visible latency,
timers, boundaries); `?reset=true` starts a new measurement (benchmarks)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from segmentum.api.auth import ReadKey
from segmentum.api.deps import ServerDep
from segmentum.service import realtime

router = APIRouter(prefix="/v1", tags=["realtime"])


@router.get("/realtime")
async def realtime_status(server: ServerDep, _: ReadKey, reset: bool = False) -> dict[str, Any]:
    def status() -> dict[str, Any]:
        with server.locked() as ws:
            stored = realtime.status(ws)
        return {**stored, **server.realtime_stats(reset)}

    return await run_in_threadpool(status)
