"""Logging in and out (sessions), web users (admin) and the audit log (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from segmentum.api.access import Admin, Viewer
from segmentum.api.calls import Limit, Offset, Page, call, page, record
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import audit, users
from segmentum.web import session as web_session

router = APIRouter(prefix="/api", tags=["users"])
RoleName = Annotated[str, Field(pattern=r"^(viewer|marketer|admin)$", examples=["marketer"])]


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=64, examples=["jana"])
    password: str = Field(max_length=1024)


class SessionOut(BaseModel):
    username: str
    role: str
    csrf_token: str = Field(description="send as X-CSRF-Token on state-changing requests")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=users.USERNAME_PATTERN, examples=["jana"])
    password: str = Field(min_length=users.MIN_PASSWORD_LENGTH, max_length=1024)
    role: RoleName = "viewer"


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: RoleName | None = None
    password: str | None = Field(None, min_length=users.MIN_PASSWORD_LENGTH, max_length=1024)
    disabled: bool | None = None


@router.post("/session", response_model=SessionOut, responses=error_responses(401, 422))
async def log_in(
    body: Login, request: Request, response: Response, server: ServerDep
) -> SessionOut:
    """Log in: sets the session cookie; the answer carries the CSRF token."""

    def run(ws: Any) -> tuple[str, users.Session]:
        principal = users.authenticate(ws, body.username, body.password)
        started = users.start_session(ws, principal)
        record(ws, principal, "login", "user", principal.name)
        return started

    token, session = await call(server, run)
    web_session.set_session_cookie(request, response, token)
    return SessionOut(
        username=session.principal.name, role=session.principal.role, csrf_token=session.csrf_token
    )


@router.get("/session", responses=error_responses(401))
async def whoami(request: Request, who: Viewer) -> dict[str, Any]:
    session = await web_session.current_session(request)
    return {
        "name": who.name,
        "role": who.role,
        "kind": who.kind,
        "csrf_token": session.csrf_token if session else None,
    }


@router.delete("/session", status_code=204, responses=error_responses(401, 403))
async def log_out(request: Request, server: ServerDep, who: Viewer) -> Response:
    token = web_session.session_token(request)

    def run(ws: Any) -> None:
        if token:
            users.end_session(ws, token)
        record(ws, who, "logout", "user", who.name)

    await call(server, run)
    response = Response(status_code=204)
    web_session.clear_session_cookie(response)
    return response


@router.get("/users", responses=error_responses(401, 403))
async def list_users(server: ServerDep, who: Admin) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = jsonable_encoder(await call(server, users.list_users))
    return rows


@router.post("/users", status_code=201, responses=error_responses(400, 401, 403, 409, 422))
async def create_user(body: UserIn, server: ServerDep, who: Admin) -> dict[str, Any]:
    def run(ws: Any) -> dict[str, Any]:
        created = users.create_user(ws, body.username, body.password, body.role)
        record(ws, who, "create", "user", body.username, {"role": body.role})
        return created

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result


@router.patch("/users/{username}", responses=error_responses(400, 401, 403, 404, 422))
async def change_user(
    username: str, body: UserChange, server: ServerDep, who: Admin
) -> dict[str, Any]:
    """Change a user's role, password or disabled flag (their sessions end)."""

    def run(ws: Any) -> dict[str, Any]:
        changed = users.update_user(
            ws, username, role=body.role, password=body.password, disabled=body.disabled
        )
        detail = {
            k: v for k, v in (("role", body.role), ("disabled", body.disabled)) if v is not None
        }
        if body.password is not None:
            detail["password"] = "changed"  # noqa: S105 (a note, not a secret)
        record(ws, who, "update", "user", username, detail)
        return changed

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result


@router.get("/audit", response_model=Page[dict[str, Any]], responses=error_responses(401, 403))
async def audit_log(
    server: ServerDep,
    who: Admin,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Who created, changed, sent, paused or exported what, and when (newest first)."""
    rows, total = await call(
        server,
        lambda ws: audit.entries(
            ws,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            limit=limit,
            offset=offset,
        ),
    )
    return page(rows, total, limit, offset)
