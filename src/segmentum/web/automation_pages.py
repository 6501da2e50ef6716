"""Automation pages: the list (trigger, action, state, recent firings) with pause and resume
for marketers, and one automation with its definition and latest runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from segmentum.service import audit
from segmentum.service import automations as automation_service
from segmentum.service.errors import ServiceError
from segmentum.web.rendering import PageSession, RefusedError, check_csrf, need, render, run

router = APIRouter(prefix="/ui", include_in_schema=False)
#: Runs shown on an automation's page, newest first.
LATEST_RUNS = 25


@router.get("/automations", response_class=HTMLResponse)
async def automation_list(request: Request, session: PageSession) -> Response:
    rows = await run(request, automation_service.automation_overview)
    return render(
        request,
        "automations.html",
        session,
        rows=rows,
        can_change=session.principal.allows("marketer"),
    )


@router.get("/automations/{name}", response_class=HTMLResponse)
async def automation_page(request: Request, session: PageSession, name: str) -> Response:
    def read(ws: Any) -> dict[str, Any]:
        shown = automation_service.show_automation(ws, name)
        runs, total = automation_service.run_page(ws, name, limit=LATEST_RUNS)
        return {"automation": shown, "runs": runs, "total": total}

    try:
        data = await run(request, read)
    except ServiceError as error:
        raise RefusedError(str(error), status=404) from error
    return render(
        request,
        "automation.html",
        session,
        can_change=session.principal.allows("marketer"),
        **data,
    )


async def _switch(request: Request, session: Any, name: str, action: str) -> Response:
    form = await request.form()
    check_csrf(session, form)
    who = need(session, "marketer")
    change = automation_service.pause if action == "pause" else automation_service.resume

    def act(ws: Any) -> None:
        change(ws, name)
        audit.record(ws, who.actor, action, "automation", name)

    try:
        await run(request, act)
    except ServiceError as error:
        raise RefusedError(str(error), status=404) from error
    back = "/ui/automations" if form.get("back") == "list" else f"/ui/automations/{name}"
    return RedirectResponse(back, status_code=303)


@router.post("/automations/{name}/pause")
async def pause(request: Request, session: PageSession, name: str) -> Response:
    """Stop acting on membership changes (they are skipped while paused)."""
    return await _switch(request, session, name, "pause")


@router.post("/automations/{name}/resume")
async def resume(request: Request, session: PageSession, name: str) -> Response:
    return await _switch(request, session, name, "resume")
