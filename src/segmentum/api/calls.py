"""Running a use case from a request: in a worker thread, holding the workspace for one step;
the page envelope; audit records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from segmentum.service import audit
from segmentum.service.server import Server
from segmentum.service.users import Principal
from segmentum.service.workspace import Workspace

T = TypeVar("T")
Item = TypeVar("Item")

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="items to skip")]


class Page(BaseModel, Generic[Item]):
    """One page of a list: ``items``, how many matched (``total``), and where it starts."""

    items: list[Item]
    total: int = Field(ge=0, examples=[1234])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])


def page(rows: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": jsonable_encoder(rows), "total": total, "limit": limit, "offset": offset}


async def call(server: Server, use_case: Callable[[Workspace], T]) -> T:
    """``use_case(workspace)`` in a worker thread, with the workspace held for its duration."""

    def run() -> T:
        with server.locked() as ws:
            return use_case(ws)

    return await run_in_threadpool(run)


def record(
    ws: Workspace,
    who: Principal,
    action: str,
    object_type: str,
    object_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(ws, who.actor, action, object_type, object_id, detail)
