"""Login sessions for pages and for the REST API used from the browser.

The cookie holds a random token (the store keeps its SHA-256); it is ``HttpOnly`` and
``SameSite=Lax``, and ``Secure`` (with the ``__Host-`` prefix) whenever the request came over
HTTPS, or always when ``SEGMENTUM_SECURE_COOKIES=1``. Every form carries the session's CSRF
token, and every state-changing request made with the cookie must present it (form field
``csrf_token`` or header ``X-CSRF-Token``).
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from segmentum.service import users
from segmentum.service.server import Server

COOKIE = "segmentum_session"
SECURE_COOKIE = "__Host-segmentum_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def get_server(request: Request) -> Server:
    server = request.app.state.server
    assert isinstance(server, Server), "the app's lifespan has not started"
    return server


def secure_request(request: Request) -> bool:
    forced = os.environ.get("SEGMENTUM_SECURE_COOKIES", "").strip().lower()
    return forced in ("1", "true", "yes") or request.url.scheme == "https"


def session_token(request: Request) -> str | None:
    return request.cookies.get(SECURE_COOKIE) or request.cookies.get(COOKIE)


async def current_session(request: Request) -> users.Session | None:
    """The request's live session, looked up once per request."""
    if hasattr(request.state, "session"):
        cached: users.Session | None = request.state.session
        return cached
    token = session_token(request)
    session = None
    if token:
        server = get_server(request)

        def look_up() -> users.Session | None:
            with server.locked() as ws:
                return users.resolve_session(ws, token)

        session = await run_in_threadpool(look_up)
    request.state.session = session
    return session


SessionDep = Annotated[users.Session | None, Depends(current_session)]


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    secure = secure_request(request)
    response.set_cookie(
        SECURE_COOKIE if secure else COOKIE,
        token,
        max_age=users.SESSION_HOURS * 3600,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(SECURE_COOKIE, path="/", secure=True)
