"""The application factory: `create_app(settings)`; the lifespan opens the workspace and starts
the embedded worker, and closes both on shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from segmentum.api import deps
from segmentum.api.routers import campaigns, health, sms, track, unsubscribe
from segmentum.api.routers import email as email_router
from segmentum.service.errors import ServiceError, user_errors
from segmentum.service.server import Server, ServerSettings, WebhookError


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """A new app for ``settings`` (default: `deps.get_settings()`, from the environment)."""
    chosen = settings or deps.get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server = Server(chosen).open()
        app.state.server = server
        try:
            yield
        finally:
            app.state.server = None
            server.close()

    app = FastAPI(
        title="Segmentum",
        summary="Webhooks for delivery receipts, replies and unsubscribes; campaign status.",
        lifespan=lifespan,
    )
    app.dependency_overrides[deps.get_settings] = lambda: chosen
    for router in (health.router, sms.router, email_router.router, unsubscribe.router,
                   campaigns.router, track.router):  # fmt: skip
        app.include_router(router)

    @app.exception_handler(WebhookError)
    async def webhook_error(request: Request, error: WebhookError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    for error_class in user_errors():
        if issubclass(error_class, Exception) and not issubclass(error_class, ServiceError):
            app.add_exception_handler(error_class, _user_error)
    return app


async def _user_error(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": " ".join(str(error).split())}, status_code=400)
