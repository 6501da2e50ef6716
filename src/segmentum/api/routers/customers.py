"""Customers: search, profile, timeline, the segments they are in, GDPR export and forget."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder

from segmentum.api.access import Admin, Marketer, Viewer
from segmentum.api.calls import Limit, Offset, Page, call, page, record
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import browse, consent, customers

router = APIRouter(prefix="/api/customers", tags=["customers"])
NOT_FOUND = error_responses(400, 401, 403, 404)


@router.get("", response_model=Page[dict[str, Any]], responses=error_responses(400, 401))
async def search(
    server: ServerDep,
    who: Viewer,
    q: Annotated[
        str | None,
        Query(max_length=200, description="id, name, e-mail or phone contains", examples=["novak"]),
    ] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$", examples=["CZ"])] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Find customers; ordered by id."""
    rows, total = await call(
        server,
        lambda ws: browse.search_customers(ws, q, country=country, limit=limit, offset=offset),
    )
    return page(rows, total, limit, offset)


@router.get("/{customer_id}", responses=NOT_FOUND)
async def profile(customer_id: str, server: ServerDep, who: Viewer) -> dict[str, Any]:
    """Profile, purchase summary and subscriptions (the timeline has its own endpoint)."""
    shown = await call(server, lambda ws: customers.show_customer(ws, customer_id, limit=0))
    shown.pop("timeline", None)
    result: dict[str, Any] = jsonable_encoder(shown)
    return result


@router.get("/{customer_id}/timeline", response_model=Page[dict[str, Any]], responses=NOT_FOUND)
async def timeline(
    customer_id: str, server: ServerDep, who: Viewer, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """Orders (with items), returns and events, newest first."""
    shown = await call(
        server, lambda ws: customers.show_customer(ws, customer_id, limit=offset + limit)
    )
    return page(shown["timeline"][offset:], shown["timeline_total"], limit, offset)


@router.get("/{customer_id}/segments", responses=NOT_FOUND)
async def segments(customer_id: str, server: ServerDep, who: Viewer) -> list[dict[str, Any]]:
    """The segments the customer was in at the last refresh (explain each for the why)."""
    rows: list[dict[str, Any]] = jsonable_encoder(
        await call(server, lambda ws: browse.customer_segments(ws, customer_id))
    )
    return rows


@router.get("/{customer_id}/export", responses=NOT_FOUND)
async def export(customer_id: str, server: ServerDep, who: Marketer) -> dict[str, Any]:
    """Everything held about the customer (GDPR access; recorded in the audit log)."""

    def run(ws: Any) -> dict[str, Any]:
        document = consent.export_customer(ws, customer_id)
        record(ws, who, "export", "customer", customer_id)
        return document

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result


@router.post("/{customer_id}/forget", responses=NOT_FOUND)
async def forget(customer_id: str, server: ServerDep, who: Admin) -> dict[str, Any]:
    """Erase the customer's personal data everywhere (admin; hashed suppressions stay)."""

    def run(ws: Any) -> dict[str, Any]:
        result = consent.forget_customer(ws, customer_id)
        record(ws, who, "forget", "customer", str(result.get("token", "")))
        return result

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result
