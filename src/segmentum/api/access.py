"""Who may call what: a web user's session (cookie) or an API key (``Authorization: Bearer``).

Roles: ``viewer`` reads; ``marketer`` also creates, changes, exports and sends; ``admin`` also
manages users, API keys and workspace settings. API-key scopes map onto them: ``read`` →
viewer, ``marketer`` → marketer, ``admin`` → admin (``ingest`` keys reach only the intake).
A state-changing request authenticated by the cookie must carry the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from segmentum.api import auth
from segmentum.service import keys
from segmentum.service.server import UnauthorizedError
from segmentum.service.users import Principal, Role, csrf_matches
from segmentum.web import session as web_session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SCOPE_ROLES: dict[str, Role] = {"read": "viewer", "marketer": "marketer", "admin": "admin"}


async def _key_principal(request: Request, key: str) -> Principal:
    """The API key's principal; its scope becomes a role (ingest keys reach no REST route)."""
    server = request.app.state.server
    try:
        found = await run_in_threadpool(keys.authenticate_on, server, key, "read")
    except UnauthorizedError as error:
        raise HTTPException(401, str(error), headers=auth.CHALLENGE) from None
    except keys.ForbiddenError:
        raise HTTPException(403, "this API key's scope reaches only the event intake") from None
    return Principal(found.key_id, SCOPE_ROLES[found.scope], kind="api_key")


async def current_principal(request: Request) -> Principal:
    key = auth.presented_key(request.headers.get("authorization"))
    if key is not None:
        return await _key_principal(request, key)
    session = await web_session.current_session(request)
    if session is None:
        raise HTTPException(
            401,
            "log in or send an API key (Authorization: Bearer <key>)",
            headers=auth.CHALLENGE,
        )
    if request.method not in SAFE_METHODS:
        offered = request.headers.get(web_session.CSRF_HEADER)
        if not csrf_matches(session, offered):
            raise HTTPException(403, "missing or wrong CSRF token (X-CSRF-Token header)")
    return session.principal


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, who must hold ``role`` or a higher one."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.allows(role):
            raise HTTPException(403, f"this needs the {role} role; you are {principal.role}")
        return principal

    check.__name__ = f"require_{role}"
    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Marketer = Annotated[Principal, Depends(require("marketer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
