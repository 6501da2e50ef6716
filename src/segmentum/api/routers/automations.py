"""Automations: list, read, create, replace, delete, pause, resume, their runs (firings), the
seed library and the webhook dead letters. Changing needs the marketer role; all changes are
audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field

from segmentum.api.access import Marketer, Viewer
from segmentum.api.calls import Limit, Offset, Page, call, page, record
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import automations as automation_service
from segmentum.service.automations import Definition
from segmentum.service.errors import ServiceError

router = APIRouter(prefix="/api/automations", tags=["automations"])
NOT_FOUND = error_responses(400, 401, 403, 404)
RunStatus = Literal["pending", "done", "skipped", "failed"]
AUTOMATION_LINKS = {
    "links": {
        "GetAutomation": {
            "operationId": "get_automation",
            "parameters": {"name": "$response.body#/name"},
        },
        "AutomationRuns": {
            "operationId": "automation_runs",
            "parameters": {"name": "$response.body#/name"},
        },
    }
}
EXAMPLE = {
    "name": "welcome_sms",
    "description": "A welcome text when a customer enters new_subscribers.",
    "trigger": {"segment": "new_subscribers", "when": "enter"},
    "action": {
        "type": "send",
        "channel": "sms",
        "template": {"body": "Welcome, {{ first_name }}!"},
    },
    "delay": "24h",
}


class AutomationOut(BaseModel):
    name: str = Field(examples=["welcome_sms"])
    state: Literal["active", "paused"]
    description: str
    trigger: dict[str, str] = Field(examples=[{"segment": "new_subscribers", "when": "enter"}])
    action: str = Field(examples=["send sms"])
    delay: str | None = Field(examples=["24h"])
    definition: dict[str, Any]
    occurrences: int
    runs: dict[str, int] = Field(examples=[{"pending": 2, "done": 40, "skipped": 3, "failed": 0}])
    clicks: dict[str, int] = Field(
        description="clicks on the tracked links of its messages, and distinct customers",
        examples=[{"clicks": 12, "customers": 9}],
    )
    created_at: str
    updated_at: str


class StateOut(BaseModel):
    automation: str = Field(examples=["welcome_sms"])
    state: Literal["active", "paused"]


def _parsed(body: Definition) -> Definition:
    """The body again through the service's parser, which also checks a send's template."""
    return automation_service.parse_automation(body.model_dump(mode="json"))


def _shown(ws: Any, name: str) -> dict[str, Any]:
    shown: dict[str, Any] = jsonable_encoder(automation_service.show_automation(ws, name))
    return shown


@router.get("", response_model=Page[dict[str, Any]], responses=error_responses(401, 422))
async def list_automations(
    server: ServerDep,
    who: Viewer,
    state: Literal["active", "paused"] | None = None,
    segment: Annotated[str | None, Query(max_length=63, description="the trigger's")] = None,
    q: Annotated[str | None, Query(max_length=200, description="name contains")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Every automation by name: state, trigger, action, delay, runs by status, the last firing
    and the runs of the last 7 days."""
    rows = await call(server, automation_service.automation_overview)
    rows = [
        row
        for row in rows
        if (state is None or row["state"] == state)
        and (segment is None or row["segment"] == segment)
        and (not q or q.lower() in row["automation"])
    ]
    return page(rows[offset : offset + limit], len(rows), limit, offset)


@router.post(
    "",
    status_code=201,
    response_model=AutomationOut,
    responses=error_responses(400, 401, 403, 409, 422),
    openapi_extra={
        "requestBody": {"content": {"application/json": {"example": EXAMPLE}}},
        "responses": {"201": AUTOMATION_LINKS},
    },
)
async def create_automation(body: Definition, server: ServerDep, who: Marketer) -> dict[str, Any]:
    """Create an automation (active at once; 409 if the name is taken) from its definition: the
    JSON form of the YAML file `segmentum automations create` reads (docs/automations.md)."""

    def create(ws: Any) -> dict[str, Any]:
        created = automation_service.create_automation(ws, _parsed(body))
        record(ws, who, "create", "automation", created["name"])
        return _shown(ws, created["name"])

    return await call(server, create)


@router.get("/library", responses=error_responses(401))
async def library_list(server: ServerDep, who: Viewer) -> list[dict[str, Any]]:
    """The seed automations (welcome, purchase follow-up, abandoned cart, survey reminders,
    win-back) that can be installed."""
    return automation_service.library_automations()


@router.post("/library/install", responses=error_responses(401, 403))
async def library_install(server: ServerDep, who: Marketer) -> list[dict[str, Any]]:
    """Install every seed automation whose segment and channel exist (the segments come from
    `POST /api/segments/library/install`); the others are reported with the reason."""

    def install(ws: Any) -> list[dict[str, Any]]:
        report = automation_service.install_library(ws)
        installed = [row["name"] for row in report if row["status"] == "installed"]
        record(ws, who, "create", "automation_library", "*", {"installed": installed})
        return report

    return await call(server, install)


@router.get(
    "/dead-letters", response_model=Page[dict[str, Any]], responses=error_responses(401, 422)
)
async def dead_letters(
    server: ServerDep, who: Viewer, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """Webhook calls that failed every attempt, oldest first, with the last answer."""
    rows = await call(server, automation_service.dead_letters)
    return page(rows[offset : offset + limit], len(rows), limit, offset)


@router.get(
    "/{name}", response_model=AutomationOut, responses=NOT_FOUND, operation_id="get_automation"
)
async def get_automation(name: str, server: ServerDep, who: Viewer) -> dict[str, Any]:
    return await call(server, lambda ws: _shown(ws, name))


@router.put(
    "/{name}",
    response_model=AutomationOut,
    responses=error_responses(400, 401, 403, 422),
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE}}}},
)
async def put_automation(
    name: str, body: Definition, server: ServerDep, who: Marketer
) -> dict[str, Any]:
    """Create or replace an automation; the body's name must be the path's. A replaced one
    keeps its state and runs; pending runs act with the new definition."""

    def save(ws: Any) -> dict[str, Any]:
        automation = _parsed(body)
        try:
            automation_service.get_automation(ws, name)
        except ServiceError:
            if automation.name != name:
                raise ServiceError(
                    f"the body's name {automation.name!r} is not the path's {name!r}"
                ) from None
            automation_service.create_automation(ws, automation)
            record(ws, who, "create", "automation", name)
            return _shown(ws, name)
        automation_service.update_automation(ws, name, automation)
        record(ws, who, "update", "automation", name)
        return _shown(ws, name)

    return await call(server, save)


@router.delete("/{name}", status_code=204, responses=NOT_FOUND)
async def delete_automation(name: str, server: ServerDep, who: Marketer) -> Response:
    """Delete an automation and its runs; its queued messages are skipped (the send ledger
    keeps what was sent)."""

    def delete(ws: Any) -> None:
        automation_service.delete_automation(ws, name)
        record(ws, who, "delete", "automation", name)

    await call(server, delete)
    return Response(status_code=204)


@router.post("/{name}/pause", response_model=StateOut, responses=NOT_FOUND)
async def pause(name: str, server: ServerDep, who: Marketer) -> dict[str, str]:
    """Stop acting: membership changes while paused are skipped, queued messages wait."""

    def run(ws: Any) -> dict[str, str]:
        state = automation_service.pause(ws, name)
        record(ws, who, "pause", "automation", name)
        return {"automation": name, "state": state}

    return await call(server, run)


@router.post("/{name}/resume", response_model=StateOut, responses=NOT_FOUND)
async def resume(name: str, server: ServerDep, who: Marketer) -> dict[str, str]:
    """Act again on new membership changes."""

    def run(ws: Any) -> dict[str, str]:
        state = automation_service.resume(ws, name)
        record(ws, who, "resume", "automation", name)
        return {"automation": name, "state": state}

    return await call(server, run)


@router.get(
    "/{name}/runs",
    response_model=Page[dict[str, Any]],
    responses=NOT_FOUND,
    operation_id="automation_runs",
)
async def automation_runs(
    name: str,
    server: ServerDep,
    who: Viewer,
    status: RunStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The automation's runs (one per membership change it listened to), newest first: the
    customer, the change, when it is due, its status and outcome (``queued``, ``tagged``,
    ``webhook_queued``, a skip reason) and the message key in the send ledger."""
    rows, total = await call(
        server, lambda ws: automation_service.run_page(ws, name, status, limit, offset)
    )
    return page(rows, total, limit, offset)
