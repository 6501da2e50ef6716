"""The pages: log in, dashboard, segments (list, builder, detail), customers (search, page),
and `mount(app)` which adds them, the campaign and admin pages and the static assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import plotly
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from segmentum.service import audit, browse, dashboard, membership, users
from segmentum.service import customers as customer_service
from segmentum.service import segments as segment_service
from segmentum.service.errors import ServiceError
from segmentum.service.segments import DefinitionSource, InvalidDefinitionError
from segmentum.web import admin_pages, automation_pages, campaign_pages
from segmentum.web.rendering import (
    HERE,
    LoginRequiredError,
    PageSession,
    RefusedError,
    check_csrf,
    need,
    render,
    run,
)
from segmentum.web.session import (
    clear_session_cookie,
    current_session,
    session_token,
    set_session_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
root = APIRouter(include_in_schema=False)
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
LIFECYCLE_STAGES = ("zero", "active", "returned", "pre_churn", "churn", "gone")


def mount(app: FastAPI) -> None:
    """Add the pages, their static assets and the login redirect to ``app``."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(root)
    app.include_router(router)
    app.include_router(campaign_pages.router)
    app.include_router(automation_pages.router)
    app.include_router(admin_pages.router)

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, error: LoginRequiredError) -> Response:
        return RedirectResponse(f"/ui/login?next={quote(error.next_path)}", status_code=303)

    @app.exception_handler(RefusedError)
    async def refused(request: Request, error: RefusedError) -> Response:
        session = await current_session(request)
        return render(request, "refused.html", session, status=error.status, message=error.message)


@root.get("/static-vendor/plotly.min.js")
async def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package: charts work offline."""
    return FileResponse(
        PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/ui/") and not value.startswith("//"):
        return value
    return "/ui/"


@root.get("/", include_in_schema=False)
async def start() -> Response:
    return RedirectResponse("/ui/", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: str = Form(max_length=64),
    password: str = Form(max_length=1024),
    next: str = Form("/ui/"),
) -> Response:
    def check(ws: Any) -> tuple[str, users.Session]:
        principal = users.authenticate(ws, username.strip(), password)
        started = users.start_session(ws, principal)
        audit.record(ws, principal.actor, "login", "user", principal.name)
        return started

    try:
        token, _ = await run(request, check)
    except users.AuthenticationError:
        return render(
            request,
            "login.html",
            None,
            status=401,
            next=_safe_next(next),
            error="Wrong user name or password.",
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/logout")
async def logout(request: Request, session: PageSession) -> Response:
    check_csrf(session, await request.form())
    token = session_token(request)
    if token:
        await run(request, lambda ws: users.end_session(ws, token))
    response = RedirectResponse("/ui/login", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/", response_class=HTMLResponse, name="dashboard")
async def home(request: Request, session: PageSession) -> Response:
    summary = await run(request, dashboard.dashboard)
    figures = dashboard.dashboard_figures(summary)
    return render(request, "dashboard.html", session, summary=summary, figures=figures)


# --- segments -----------------------------------------------------------------------------


@router.get("/segments", response_class=HTMLResponse)
async def segment_list(request: Request, session: PageSession, q: str = "") -> Response:
    rows = await run(request, dashboard.segment_overview)
    if q:
        rows = [
            row for row in rows if q.lower() in row["name"] or q.lower() in row["sentence"].lower()
        ]
    return render(request, "segments.html", session, rows=rows, q=q)


def _builder_context(ws: Any) -> dict[str, Any]:
    customers = ws.catalog.table("customers")
    sources = ["orders", "order_items", "returns", *sorted(ws.catalog.event_types)]
    return {
        "attributes": [c for c in customers.column_names if c not in ("customer_id",)],
        "sources": sources,
        "segments": [row["name"] for row in dashboard.segment_overview(ws)],
        "stages": LIFECYCLE_STAGES,
    }


@router.get("/segments/new", response_class=HTMLResponse)
async def segment_builder(request: Request, session: PageSession, name: str = "") -> Response:
    context = await run(request, _builder_context)
    existing: dict[str, Any] | None = None
    if name:
        existing = await run(request, lambda ws: segment_service.show_segment(ws, name))
    return render(
        request,
        "segment_builder.html",
        session,
        existing=existing,
        issues=[],
        form={},
        can_edit=session.principal.allows("marketer"),
        **context,
    )


@router.post("/segments/new", response_class=HTMLResponse)
async def save_segment(request: Request, session: PageSession) -> Response:
    form = await request.form()
    check_csrf(session, form)
    who = need(session, "marketer")
    name = str(form.get("name", "")).strip()
    where = str(form.get("where", "")).strip()
    description = str(form.get("description", "")).strip()

    def save(ws: Any) -> str:
        existed = browse.segment_exists(ws, name)
        stored = segment_service.create_segment(ws, name, DefinitionSource(text=where), description)
        audit.record(
            ws,
            who.actor,
            "update" if existed else "create",
            "segment",
            stored.name,
            {"version": stored.version},
        )
        return stored.name

    try:
        saved = await run(request, save)
    except InvalidDefinitionError as invalid:
        issues = [vars(issue) for issue in invalid.issues]
        return await _builder_again(request, session, form, issues)
    except ServiceError as error:
        issues = [{"code": "SEG000", "path": "/", "message": str(error)}]
        return await _builder_again(request, session, form, issues)
    return RedirectResponse(f"/ui/segments/{saved}", status_code=303)


async def _builder_again(
    request: Request, session: Any, form: Any, issues: list[dict[str, Any]]
) -> Response:
    context = await run(request, _builder_context)
    return render(
        request,
        "segment_builder.html",
        session,
        status=400,
        existing=None,
        issues=issues,
        form=dict(form),
        can_edit=True,
        **context,
    )


@router.get("/segments/{name}", response_class=HTMLResponse)
async def segment_page(
    request: Request, session: PageSession, name: str, offset: int = 0
) -> Response:
    offset = max(0, offset)

    def read(ws: Any) -> dict[str, Any]:
        shown = segment_service.show_segment(ws, name)
        rows, total = browse.member_page(
            ws, name, limit=25, offset=offset, columns=("first_name", "last_name", "country")
        )
        history = membership.segment_history(ws, name)[-12:]
        return {"segment": shown, "members": rows, "total": total, "history": history}

    try:
        data = await run(request, read)
    except ServiceError as error:
        raise RefusedError(str(error), status=404) from error
    sizes = [
        {"segment": name, "date": row["effective_at"], "size": row["size"]}
        for row in data["history"]
    ]
    figure = dashboard.sizes_html(sizes) if sizes else None
    return render(request, "segment.html", session, offset=offset, figure=figure, **data)


@router.post("/segments/{name}/delete")
async def delete_segment(request: Request, session: PageSession, name: str) -> Response:
    check_csrf(session, await request.form())
    who = need(session, "marketer")

    def delete(ws: Any) -> None:
        segment_service.delete_segment(ws, name)
        audit.record(ws, who.actor, "delete", "segment", name)

    await run(request, delete)
    return RedirectResponse("/ui/segments", status_code=303)


# --- customers ----------------------------------------------------------------------------


@router.get("/customers", response_class=HTMLResponse)
async def customer_search(
    request: Request, session: PageSession, q: str = "", offset: int = 0
) -> Response:
    offset = max(0, offset)
    rows, total = await run(
        request, lambda ws: browse.search_customers(ws, q or None, limit=25, offset=offset)
    )
    return render(request, "customers.html", session, rows=rows, total=total, q=q, offset=offset)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(request: Request, session: PageSession, customer_id: str) -> Response:
    def read(ws: Any) -> dict[str, Any]:
        shown = customer_service.show_customer(ws, customer_id, limit=50)
        shown["segments"] = browse.customer_segments(ws, customer_id)
        shown["all_segments"] = [row["name"] for row in dashboard.segment_overview(ws)]
        return shown

    try:
        data = await run(request, read)
    except ServiceError as error:
        raise RefusedError(str(error), status=404) from error
    return render(request, "customer.html", session, customer=data)
