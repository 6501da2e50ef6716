"""Campaign pages: the list, the wizard (audience → templates → schedule → dry run → test
send → send), the live status page, the campaign report and segment analytics."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from segmentum.service import audit, browse, dashboard, reports
from segmentum.service import campaigns as campaign_service
from segmentum.service import sms as sms_service
from segmentum.service.errors import ServiceError
from segmentum.web.rendering import PageSession, RefusedError, check_csrf, need, render, run
from segmentum.web.session import CSRF_HEADER

router = APIRouter(prefix="/ui", include_in_schema=False)
PLACEHOLDER = "Write your message here."
STEPS = ("audience", "templates", "schedule", "review")


@router.get("/campaigns", response_class=HTMLResponse)
async def campaign_list(request: Request, session: PageSession) -> Response:
    rows = await run(request, campaign_service.list_campaigns)
    return render(request, "campaigns.html", session, rows=rows)


@router.get("/campaigns/new", response_class=HTMLResponse)
async def wizard_audience(request: Request, session: PageSession) -> Response:
    segments = await run(request, dashboard.segment_overview)
    return render(
        request,
        "wizard_audience.html",
        session,
        segments=segments,
        error=None,
        step="audience",
        steps=STEPS,
        campaign=None,
    )


@router.post("/campaigns/new", response_class=HTMLResponse)
async def create_draft(request: Request, session: PageSession) -> Response:
    form = await request.form()
    check_csrf(session, form)
    who = need(session, "marketer")
    name = str(form.get("name", "")).strip()
    include = [str(v) for v in form.getlist("include")]
    exclude = [str(v) for v in form.getlist("exclude") if str(v) not in include]
    definition = {
        "name": name,
        "channel": str(form.get("channel", "sms")),
        "segments": [{"segment": segment} for segment in include],
        "exclude": exclude,
        "default_template": {"body": PLACEHOLDER},
    }

    def create(ws: Any) -> str:
        campaign = campaign_service.parse_campaign(definition)
        stored = campaign_service.create_campaign(ws, campaign)
        audit.record(ws, who.actor, "create", "campaign", stored.campaign_id)
        return stored.campaign_id

    try:
        campaign_id = await run(request, create)
    except ServiceError as error:
        segments = await run(request, dashboard.segment_overview)
        return render(
            request,
            "wizard_audience.html",
            session,
            status=400,
            segments=segments,
            error=str(error),
            step="audience",
            steps=STEPS,
            campaign=None,
        )
    return RedirectResponse(f"/ui/campaigns/{campaign_id}/wizard/templates", status_code=303)


async def _draft(request: Request, campaign_id: str) -> dict[str, Any]:
    try:
        return await run(request, lambda ws: browse.campaign_detail(ws, campaign_id))
    except ServiceError as error:
        raise RefusedError(str(error), status=404) from error


@router.get("/campaigns/{campaign_id}/wizard/{step}", response_class=HTMLResponse)
async def wizard_step(
    request: Request, session: PageSession, campaign_id: str, step: str
) -> Response:
    if step not in STEPS[1:]:
        raise RefusedError(f"no wizard step {step!r}", status=404)
    detail = await _draft(request, campaign_id)
    context: dict[str, Any] = {"campaign": detail, "step": step, "steps": STEPS, "error": None}
    if step == "review":
        try:
            context["summary"] = await run(
                request, lambda ws: campaign_service.dry_run(ws, campaign_id)
            )
        except ServiceError as error:
            context["summary"], context["error"] = [], str(error)
    if step == "schedule":
        context["policy"] = await run(
            request,
            lambda ws: {
                "quiet_hours": ws.settings.quiet_hours,
                "caps": ws.settings.frequency_caps,
                "timezone": ws.settings.timezone,
                "currency": ws.settings.currency,
            },
        )
    return render(request, f"wizard_{step}.html", session, **context)


@router.post("/campaigns/{campaign_id}/wizard/templates")
async def save_templates(request: Request, session: PageSession, campaign_id: str) -> Response:
    """Save the draft's templates (JSON from the page) and answer the live preview: rendered
    samples, SMS encoding and segments, and the cost per message."""
    who = need(session, "marketer")
    if request.headers.get(CSRF_HEADER) != session.csrf_token:
        raise RefusedError("missing or wrong CSRF token")
    try:
        templates = json.loads(await request.body())
    except json.JSONDecodeError:
        return JSONResponse({"error": "invalid JSON"}, status_code=400)
    if not isinstance(templates, dict):
        return JSONResponse({"error": "expected an object"}, status_code=400)

    def update(ws: Any) -> dict[str, Any]:
        definition = campaign_service.definition_json(ws, campaign_id)
        for target in definition["segments"]:
            given = templates.get(target["segment"])
            if isinstance(given, dict) and given.get("body"):
                target["template"] = given
                target["variants"] = []
        browse.update_campaign(ws, campaign_id, definition)
        audit.record(ws, who.actor, "update", "campaign", campaign_id, {"step": "templates"})
        rows = campaign_service.preview(ws, campaign_id, sample=2)
        price = ws.settings.sms_pricing.price_per_segment
        for row in rows:
            counted = sms_service.count_text(row["body"] or "")
            row["encoding"] = counted.count.encoding
            row["units"] = counted.count.units
            row["cost"] = str(Decimal(counted.count.segments) * Decimal(price))
        return {"preview": rows, "currency": ws.settings.currency, "channel": definition["channel"]}

    try:
        result = await run(request, update)
    except ServiceError as error:
        return JSONResponse({"error": " ".join(str(error).split())}, status_code=400)
    return JSONResponse(json.loads(json.dumps(result, default=str)))


def _int(form: Any, key: str, default: int = 0) -> int:
    try:
        return max(0, min(100, int(str(form.get(key) or default))))
    except ValueError:
        return default


@router.post("/campaigns/{campaign_id}/wizard/schedule", response_class=HTMLResponse)
async def save_schedule(request: Request, session: PageSession, campaign_id: str) -> Response:
    form = await request.form()
    check_csrf(session, form)
    who = need(session, "marketer")
    kind = str(form.get("schedule", "now"))

    def update(ws: Any) -> None:
        definition = campaign_service.definition_json(ws, campaign_id)
        if kind == "local_time":
            definition["schedule"] = {"type": "local_time", "at": str(form.get("at", ""))}
        elif kind == "recurring":
            every = str(form.get("every", "daily"))
            definition["schedule"] = {
                "type": "recurring",
                "every": every,
                "time": str(form.get("time", "10:00")),
                "weekday": str(form.get("weekday")) if every == "weekly" else None,
            }
        else:
            definition["schedule"] = {"type": "now"}
        for target in definition["segments"]:
            target["holdout_pct"] = _int(form, f"holdout_{target['segment']}")
        definition["generic_pct"] = _int(form, "generic_pct")
        generic = str(form.get("generic_body", "")).strip()
        if generic:
            definition["default_template"] = {"body": generic}
        max_cost = str(form.get("max_cost", "")).strip()
        max_segments = str(form.get("max_sms_segments", "")).strip()
        budget = {}
        if max_cost:
            budget["max_cost"] = max_cost
        if max_segments and definition["channel"] == "sms":
            budget["max_sms_segments"] = max_segments
        definition["budget"] = budget or None
        browse.update_campaign(ws, campaign_id, definition)
        audit.record(ws, who.actor, "update", "campaign", campaign_id, {"step": "schedule"})

    try:
        await run(request, update)
    except ServiceError as error:
        detail = await _draft(request, campaign_id)
        policy = await run(
            request,
            lambda ws: {
                "quiet_hours": ws.settings.quiet_hours,
                "caps": ws.settings.frequency_caps,
                "timezone": ws.settings.timezone,
                "currency": ws.settings.currency,
            },
        )
        return render(
            request,
            "wizard_schedule.html",
            session,
            status=400,
            campaign=detail,
            step="schedule",
            steps=STEPS,
            error=str(error),
            policy=policy,
        )
    return RedirectResponse(f"/ui/campaigns/{campaign_id}/wizard/review", status_code=303)


@router.post("/campaigns/{campaign_id}/{action}", response_class=HTMLResponse)
async def campaign_action(
    request: Request, session: PageSession, campaign_id: str, action: str
) -> Response:
    """Test send, send, pause, resume or cancel; only marketers and admins."""
    form = await request.form()
    check_csrf(session, form)
    actions: dict[str, Callable[[Any, str], Any]] = {
        "test-send": campaign_service.send_test,
        "send": campaign_service.send,
        "pause": campaign_service.pause,
        "resume": campaign_service.resume,
        "cancel": campaign_service.cancel,
    }
    if action not in actions:
        raise RefusedError(f"unknown action {action!r}", status=404)
    verb = "sending" if action in ("send", "test-send") else action
    if not session.principal.allows("marketer"):
        raise RefusedError(f"You are a {session.principal.role}: {verb} needs the marketer role.")
    who = session.principal

    def act(ws: Any) -> Any:
        result = actions[action](ws, campaign_id)
        audit.record(ws, who.actor, action.replace("-", "_"), "campaign", campaign_id)
        return result

    try:
        result = await run(request, act)
    except ServiceError as error:
        raise RefusedError(str(error), status=400) from error
    if action == "test-send":
        detail = await _draft(request, campaign_id)
        return render(
            request,
            "wizard_review.html",
            session,
            campaign=detail,
            step="review",
            steps=STEPS,
            error=None,
            summary=await run(request, lambda ws: campaign_service.dry_run(ws, campaign_id)),
            tests=result,
        )
    return RedirectResponse(f"/ui/campaigns/{campaign_id}", status_code=303)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(request: Request, session: PageSession, campaign_id: str) -> Response:
    detail = await _draft(request, campaign_id)
    status = await run(request, lambda ws: campaign_service.status(ws, campaign_id))
    return render(request, "campaign.html", session, campaign=detail, live=status)


@router.get("/campaigns/{campaign_id}/report", response_class=HTMLResponse)
async def campaign_report(request: Request, session: PageSession, campaign_id: str) -> Response:
    await _draft(request, campaign_id)
    try:
        document = await run(
            request, lambda ws: reports.report_document(reports.report_campaign(ws, campaign_id))
        )
    except ServiceError as error:
        raise RefusedError(str(error), status=400) from error
    rows = document["rows"]
    shown = [row for row in rows if row.get("segment") not in ("*", "ALL")]
    figures = [
        dashboard.uplift_html(shown, "Conversion uplift over the holdout"),
        dashboard.conversion_html(shown, "Conversion: treated and holdout"),
    ]
    return render(
        request,
        "report.html",
        session,
        campaign_id=campaign_id,
        document=document,
        rows=rows,
        figures=figures,
        columns=reports.SUMMARY_COLUMNS,
    )


@router.get("/reports/segments", response_class=HTMLResponse)
async def segment_report(
    request: Request,
    session: PageSession,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Response:
    try:
        report = await run(request, lambda ws: reports.report_segments(ws, date_from, date_to))
    except ServiceError as error:
        raise RefusedError(str(error), status=400) from error
    figures = [
        dashboard.sizes_html(report.sizes),
        dashboard.sankey_html(
            report.lifecycle_transitions, "Lifecycle stage: where customers moved", "fig-life"
        ),
        dashboard.sankey_html(
            report.rfm_transitions, "RFM group: where customers moved", "fig-rfm-moves"
        ),
    ]
    return render(request, "segment_report.html", session, report=report, figures=figures)
