"""Subscriptions (consent per customer and channel): list with filters, sendable counts, and
opting a customer out of a channel (with the household and the suppression list)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder

from segmentum.api.access import Marketer, Viewer
from segmentum.api.calls import Limit, Offset, Page, call, page, record
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import browse, consent

router = APIRouter(prefix="/api/subscriptions", tags=["subscriptions"])
Channel = Literal["sms", "email", "web_push"]


@router.get("", response_model=Page[dict[str, Any]], responses=error_responses(400, 401))
async def list_subscriptions(
    server: ServerDep,
    who: Viewer,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    channel: Channel | None = None,
    status: Literal["opted_in", "opted_out", "pending"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    rows, total = await call(
        server,
        lambda ws: browse.customer_subscriptions(
            ws, customer_id=customer_id, channel=channel, status=status, limit=limit, offset=offset
        ),
    )
    return page(rows, total, limit, offset)


@router.get("/sendable", responses=error_responses(401))
async def sendable(server: ServerDep, who: Viewer) -> dict[str, int]:
    """Customers opted in, per channel."""
    return await call(server, browse.sendable_per_channel)


@router.post("/{customer_id}/{channel}/opt-out", responses=error_responses(400, 401, 403))
async def opt_out(
    customer_id: str, channel: Channel, server: ServerDep, who: Marketer
) -> dict[str, Any]:
    """Opt the customer (and everyone sharing the address) out; suppress the address."""

    def run(ws: Any) -> dict[str, Any]:
        result = consent.unsubscribe_customer(ws, customer_id, channel)
        record(
            ws, who, "update", "subscription", f"{customer_id}/{channel}", {"status": "opted_out"}
        )
        return result

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result
