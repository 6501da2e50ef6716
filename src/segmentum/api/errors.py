"""One error body everywhere: ``{"code", "message", "path", "issues"}``.

``code`` is stable (``not_found``, ``forbidden``, ``invalid_definition``, ...), ``message`` is
for people, ``path`` is the request path, and ``issues`` lists every problem of a definition
or a request with its own code and path into the document (``SEG102`` at ``/all/0/count``).
``detail`` repeats the message for clients of the webhook endpoints.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from segmentum.service.errors import ServiceError, user_errors
from segmentum.service.segments import InvalidDefinitionError
from segmentum.service.server import WebhookError
from segmentum.service.users import AuthenticationError

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


#: Messages of the service layer that name something missing (answered 404).
NOT_FOUND_PREFIXES = (
    "no segment named",
    "no campaign named",
    "no automation named",
    "no customer",
    "no user named",
    "no API key",
)


class Issue(BaseModel):
    code: str = Field(examples=["SEG102"])
    path: str = Field(examples=["/all/0/count"])
    message: str = Field(examples=["count must be at least 1"])


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no segment named 'vip'"])
    path: str = Field(examples=["/api/segments/vip"])
    issues: list[Issue] = Field(default_factory=list)
    detail: str = Field("", description="the message again (webhook clients read this)")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given statuses, all with the error body."""
    return {
        status: {"model": ErrorBody, "description": CODES.get(status, "error")}
        for status in statuses
    }


def error_response(
    request: Request,
    status: int,
    message: str,
    code: str | None = None,
    issues: list[Issue] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    text = " ".join(message.split())
    body = ErrorBody(
        code=code or CODES.get(status, "error"),
        message=text,
        path=request.url.path,
        issues=issues or [],
        detail=text,
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def service_status(error: Exception, path: str = "/api/") -> int:
    """A refused use case: 404 when it names something that does not exist (under ``/api``;
    the older endpoints keep their documented 400), else 400."""
    if isinstance(error, WebhookError):
        return error.status
    if isinstance(error, AuthenticationError):
        return 401
    text = str(error)
    if path.startswith("/api/") and text.startswith(NOT_FOUND_PREFIXES):
        return 404
    if path.startswith("/api/") and "exists already" in text:
        return 409
    return 400


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def refuse_nul(request: Request, call_next: Any) -> Any:
        # A NUL in a bound value breaks the engine's SQL parser (seen with DuckDB through
        # ibis literals); no identifier or search term of ours can contain one.
        raw = request.url.path + "?" + (request.url.query or "")
        if "\x00" in raw or "%00" in raw:
            return error_response(request, 400, "a NUL character is not allowed in a URL")
        return await call_next(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        return error_response(
            request, error.status_code, message, headers=getattr(error, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        issues = [
            Issue(
                code=str(item.get("type", "invalid")),
                path="/" + "/".join(str(part) for part in item.get("loc", ())),
                message=str(item.get("msg", "")),
            )
            for item in error.errors()
        ]
        summary = "; ".join(f"{issue.path}: {issue.message}" for issue in issues[:5])
        return error_response(request, 422, f"invalid request: {summary}", issues=issues)

    @app.exception_handler(InvalidDefinitionError)
    async def invalid_definition(request: Request, error: InvalidDefinitionError) -> JSONResponse:
        issues = [Issue(code=i.code, path=i.path, message=i.message) for i in error.issues]
        return error_response(request, 400, str(error), "invalid_definition", issues)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        return error_response(request, service_status(error, request.url.path), str(error))

    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, error: OverflowError) -> JSONResponse:
        return error_response(request, 400, f"a value is out of range: {error}")

    for error_class in user_errors():
        if issubclass(error_class, Exception) and not issubclass(error_class, ServiceError):
            app.add_exception_handler(error_class, _user_error)


async def _user_error(request: Request, error: Exception) -> JSONResponse:
    return error_response(request, service_status(error, request.url.path), str(error))
