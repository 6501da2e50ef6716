"""Admin pages: web users (create, change role, disable) and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from segmentum.service import audit, users
from segmentum.service.errors import ServiceError
from segmentum.web.rendering import PageSession, check_csrf, need, render, run

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/admin/users", response_class=HTMLResponse)
async def user_list(request: Request, session: PageSession, error: str = "") -> Response:
    need(session, "admin")
    rows = await run(request, users.list_users)
    return render(request, "users.html", session, rows=rows, error=error or None)


@router.post("/admin/users", response_class=HTMLResponse)
async def user_change(request: Request, session: PageSession) -> Response:
    form = await request.form()
    check_csrf(session, form)
    who = need(session, "admin")
    action = str(form.get("action", "create"))
    username = str(form.get("username", "")).strip()

    def change(ws: Any) -> None:
        if action == "create":
            role = str(form.get("role", "viewer"))
            users.create_user(ws, username, str(form.get("password", "")), role)
            audit.record(ws, who.actor, "create", "user", username, {"role": role})
        elif action == "disable":
            users.disable_user(ws, username)
            audit.record(ws, who.actor, "disable", "user", username)
        elif action == "enable":
            users.update_user(ws, username, disabled=False)
            audit.record(ws, who.actor, "update", "user", username, {"disabled": False})
        elif action == "role":
            role = str(form.get("role", "viewer"))
            users.update_user(ws, username, role=role)
            audit.record(ws, who.actor, "update", "user", username, {"role": role})

    try:
        await run(request, change)
    except ServiceError as failure:
        rows = await run(request, users.list_users)
        return render(request, "users.html", session, status=400, rows=rows, error=str(failure))
    return RedirectResponse("/ui/admin/users", status_code=303)


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request, session: PageSession, actor: str = "", offset: int = 0
) -> Response:
    need(session, "admin")
    offset = max(0, offset)
    rows, total = await run(
        request, lambda ws: audit.entries(ws, actor=actor or None, limit=50, offset=offset)
    )
    return render(
        request, "audit.html", session, rows=rows, total=total, actor=actor, offset=offset
    )
