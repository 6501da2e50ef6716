"""Campaigns: CRUD, audience overlaps, preview, dry run, test send, send, pause, resume,
status, report and saving the responders as a segment. Sending, pausing and changing need
the marketer role; all are audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from segmentum.api.access import Marketer, Viewer
from segmentum.api.calls import Limit, Offset, Page, call, page, record
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.campaigns.model import Campaign
from segmentum.service import browse, reports
from segmentum.service import campaigns as campaign_service
from segmentum.service import segments as segment_service
from segmentum.service import sms as sms_service
from segmentum.service.errors import ServiceError

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
NOT_FOUND = error_responses(400, 401, 403, 404)
CAMPAIGN_LINKS = {
    "links": {
        "GetCampaign": {
            "operationId": "get_campaign",
            "parameters": {"campaign_id": "$response.body#/campaign"},
        },
        "DryRun": {
            "operationId": "dry_run_campaign",
            "parameters": {"campaign_id": "$response.body#/campaign"},
        },
        "Preview": {
            "operationId": "preview_campaign",
            "parameters": {"campaign_id": "$response.body#/campaign"},
        },
    }
}
EXAMPLE = {
    "name": "spring_sale",
    "channel": "sms",
    "segments": [
        {
            "segment": "vip",
            "template": {"body": "Hi {{ first_name }}, -20% today"},
            "holdout_pct": 10,
        }
    ],
    "exclude": ["complained"],
    "schedule": {"type": "now"},
}


class OverlapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]] = Field(
        min_length=1, max_length=20, examples=[["vip", "lapsed"]]
    )
    exclude: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]] = Field(
        default_factory=list, max_length=20
    )


class RespondersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", examples=["spring_responders"])


class SmsText(BaseModel):
    text: str = Field(max_length=20000, examples=["Ahoj Jano, sleva 20 % jen dnes!"])
    transliterate: bool = False


@router.get("", response_model=Page[dict[str, Any]], responses=error_responses(401))
async def list_campaigns(
    server: ServerDep,
    who: Viewer,
    state: Literal["draft", "scheduled", "sending", "paused", "completed", "cancelled"]
    | None = None,
    channel: Literal["sms", "email", "web_push"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Campaigns by name, filtered by state and channel."""
    rows = await call(server, campaign_service.list_campaigns)
    rows = [
        row
        for row in rows
        if (state is None or row["state"] == state)
        and (channel is None or row["channel"] == channel)
    ]
    return page(rows[offset : offset + limit], len(rows), limit, offset)


@router.post(
    "",
    status_code=201,
    responses=error_responses(400, 401, 403, 409, 422),
    openapi_extra={
        "requestBody": {"content": {"application/json": {"example": EXAMPLE}}},
        "responses": {"201": CAMPAIGN_LINKS},
    },
)
async def create_campaign(body: Campaign, server: ServerDep, who: Marketer) -> dict[str, Any]:
    """Create a draft campaign (segments and templates are checked)."""

    def create(ws: Any) -> dict[str, Any]:
        stored = campaign_service.create_campaign(ws, body)
        record(ws, who, "create", "campaign", stored.campaign_id)
        return browse.campaign_detail(ws, stored.campaign_id)

    result: dict[str, Any] = jsonable_encoder(await call(server, create))
    return result


@router.post("/overlap", responses=error_responses(400, 401, 404, 422))
async def overlap(body: OverlapIn, server: ServerDep, who: Viewer) -> dict[str, Any]:
    """Sizes, pairwise overlaps and the audience each included segment gets (priority order,
    exclusions applied): what the wizard's audience step shows."""
    return await call(server, lambda ws: browse.audience_overlap(ws, body.include, body.exclude))


@router.post("/sms-count", responses=error_responses(401, 422))
async def sms_count(body: SmsText, who: Viewer) -> dict[str, Any]:
    """How an SMS text will be encoded (GSM-7 or UCS-2) and into how many segments."""
    counted = sms_service.count_text(body.text, body.transliterate)
    return {**counted.as_dict(), "text": counted.text}


@router.get("/{campaign_id}", responses=NOT_FOUND, operation_id="get_campaign")
async def get_campaign(campaign_id: str, server: ServerDep, who: Viewer) -> dict[str, Any]:
    result: dict[str, Any] = jsonable_encoder(
        await call(server, lambda ws: browse.campaign_detail(ws, campaign_id))
    )
    return result


@router.put("/{campaign_id}", responses=error_responses(400, 401, 403, 404, 422))
async def update_campaign(
    campaign_id: str, body: Campaign, server: ServerDep, who: Marketer
) -> dict[str, Any]:
    """Replace a draft's definition (only drafts change; the name stays)."""

    def update(ws: Any) -> dict[str, Any]:
        result = browse.update_campaign(ws, campaign_id, body.model_dump(mode="json"))
        record(ws, who, "update", "campaign", campaign_id)
        return result

    result: dict[str, Any] = jsonable_encoder(await call(server, update))
    return result


@router.delete("/{campaign_id}", responses=NOT_FOUND)
async def cancel_campaign(campaign_id: str, server: ServerDep, who: Marketer) -> dict[str, str]:
    """Cancel: queued messages are skipped; the campaign and its ledger stay for reports."""

    def cancel(ws: Any) -> dict[str, str]:
        state = campaign_service.cancel(ws, campaign_id)
        record(ws, who, "cancel", "campaign", campaign_id)
        return {"campaign": campaign_id, "state": state}

    return await call(server, cancel)


@router.get("/{campaign_id}/preview", responses=NOT_FOUND, operation_id="preview_campaign")
async def preview(
    campaign_id: str,
    server: ServerDep,
    who: Viewer,
    sample: Annotated[int, Query(ge=1, le=20)] = 3,
) -> list[dict[str, Any]]:
    """Messages rendered for sample recipients of each segment, variant and language."""
    rows: list[dict[str, Any]] = jsonable_encoder(
        await call(server, lambda ws: campaign_service.preview(ws, campaign_id, sample))
    )
    return rows


@router.post("/{campaign_id}/dry-run", responses=NOT_FOUND, operation_id="dry_run_campaign")
async def dry_run(campaign_id: str, server: ServerDep, who: Viewer) -> list[dict[str, Any]]:
    """What a send would do now: counts per segment and variant, held out, skipped by reason,
    SMS segments and cost. Nothing is stored or sent."""
    rows: list[dict[str, Any]] = jsonable_encoder(
        await call(server, lambda ws: campaign_service.dry_run(ws, campaign_id))
    )
    return rows


@router.post("/{campaign_id}/test-send", responses=NOT_FOUND)
async def test_send(campaign_id: str, server: ServerDep, who: Marketer) -> list[dict[str, Any]]:
    """Each variant to the workspace's seed list (settings.seed_list)."""

    def run(ws: Any) -> list[dict[str, Any]]:
        rows = campaign_service.send_test(ws, campaign_id)
        record(ws, who, "test_send", "campaign", campaign_id, {"messages": len(rows)})
        return rows

    rows: list[dict[str, Any]] = jsonable_encoder(await call(server, run))
    return rows


@router.post("/{campaign_id}/send", responses=NOT_FOUND)
async def send(campaign_id: str, server: ServerDep, who: Marketer) -> dict[str, Any]:
    """Start sending now, or schedule (the worker delivers)."""

    def run(ws: Any) -> dict[str, Any]:
        result = campaign_service.send(ws, campaign_id)
        record(ws, who, "send", "campaign", campaign_id, {"state": result["state"]})
        return result

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result


@router.post("/{campaign_id}/pause", responses=NOT_FOUND)
async def pause(campaign_id: str, server: ServerDep, who: Marketer) -> dict[str, str]:
    def run(ws: Any) -> dict[str, str]:
        state = campaign_service.pause(ws, campaign_id)
        record(ws, who, "pause", "campaign", campaign_id)
        return {"campaign": campaign_id, "state": state}

    return await call(server, run)


@router.post("/{campaign_id}/resume", responses=NOT_FOUND)
async def resume(campaign_id: str, server: ServerDep, who: Marketer) -> dict[str, str]:
    def run(ws: Any) -> dict[str, str]:
        state = campaign_service.resume(ws, campaign_id)
        record(ws, who, "resume", "campaign", campaign_id)
        return {"campaign": campaign_id, "state": state}

    return await call(server, run)


@router.get("/{campaign_id}/status", responses=NOT_FOUND)
async def status(campaign_id: str, server: ServerDep, who: Viewer) -> dict[str, Any]:
    """State, occurrences and ledger counts by status (poll it for live status)."""
    result: dict[str, Any] = jsonable_encoder(
        await call(server, lambda ws: campaign_service.status(ws, campaign_id))
    )
    return result


@router.get("/{campaign_id}/report", responses=NOT_FOUND)
async def report(campaign_id: str, server: ServerDep, who: Viewer) -> dict[str, Any]:
    """Per segment × arm: sent, delivered, clicked, converted, revenue, uplift over the
    holdout with its interval (docs/measurement.md)."""
    result: dict[str, Any] = jsonable_encoder(
        await call(
            server, lambda ws: reports.report_document(reports.report_campaign(ws, campaign_id))
        )
    )
    return result


@router.post(
    "/{campaign_id}/save-responders",
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def save_responders(
    campaign_id: str, body: RespondersIn, server: ServerDep, who: Marketer
) -> dict[str, Any]:
    """Save the customers who clicked, replied or converted as a new segment (409 if the name
    is taken)."""

    def run(ws: Any) -> dict[str, Any]:
        if browse.segment_exists(ws, body.name):
            raise ServiceError(f"a segment named {body.name!r} exists already")
        stored = reports.save_responders(ws, campaign_id, body.name)
        detail = {"version": stored.version, "campaign": campaign_id}
        record(ws, who, "create", "segment", stored.name, detail)
        shown: dict[str, Any] = segment_service.show_segment(ws, stored.name)
        return shown

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result
