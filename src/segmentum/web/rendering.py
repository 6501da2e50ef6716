"""What every page shares: the Jinja2 environment, the logged-in user, CSRF checks, running a
use case on the workspace, and the refusal pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from segmentum.service.users import Principal, Role, Session, csrf_matches
from segmentum.service.workspace import Workspace
from segmentum.web.session import CSRF_FIELD, current_session, get_server

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
T = TypeVar("T")


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int | Decimal):
        return f"{value:,}"
    return str(value)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return "–" if value is None else str(value)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f} %"


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


templates.env.filters["number"] = _number
templates.env.filters["when"] = _when
templates.env.filters["pct"] = _pct
templates.env.filters["tojson_plain"] = _json


class LoginRequiredError(Exception):
    """No session: the page handler answers with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class RefusedError(Exception):
    """The user's role does not allow this: a 403 page that says which role is needed."""

    def __init__(self, message: str, status: int = 403) -> None:
        self.message = message
        self.status = status


async def page_session(request: Request) -> Session:
    session = await current_session(request)
    if session is None:
        raise LoginRequiredError(request.url.path)
    return session


PageSession = Annotated[Session, Depends(page_session)]


def need(session: Session, role: Role) -> Principal:
    if not session.principal.allows(role):
        raise RefusedError(f"This needs the {role} role; you are a {session.principal.role}.")
    return session.principal


def check_csrf(session: Session, form: Any) -> None:
    if not csrf_matches(session, form.get(CSRF_FIELD)):
        raise RefusedError(
            "The form has expired (missing or wrong CSRF token). Reload and try again."
        )


async def run(request: Request, use_case: Callable[[Workspace], T]) -> T:
    server = get_server(request)

    def locked() -> T:
        with server.locked() as ws:
            return use_case(ws)

    return await run_in_threadpool(locked)


def render(
    request: Request, name: str, session: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    context.update(
        user=None if session is None else session.principal,
        csrf_token="" if session is None else session.csrf_token,
        path=request.url.path,
    )
    return templates.TemplateResponse(request, name, context, status_code=status)
