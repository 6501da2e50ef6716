"""`GET /health`: the workspace is open; whether the embedded worker runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from segmentum.api.deps import ServerDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(server: ServerDep) -> dict[str, Any]:
    return server.health()
