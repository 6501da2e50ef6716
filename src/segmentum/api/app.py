"""The application factory: `create_app(settings)`; the lifespan opens the workspace and starts
the embedded worker, and closes both on shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from segmentum.api import deps, errors
from segmentum.api.routers import (
    automations,
    campaigns,
    campaigns_rest,
    clv,
    customers,
    health,
    keys,
    metrics,
    segments,
    sms,
    subscriptions,
    track,
    unsubscribe,
    users,
)
from segmentum.api.routers import email as email_router
from segmentum.api.routers import intake as intake_router
from segmentum.api.routers import realtime as realtime_router
from segmentum.api.routers import settings as settings_router
from segmentum.service.server import Server, ServerSettings
from segmentum.web import pages


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
        summary="Segments, campaigns and reports: the REST API and web UI for marketers, and the "
        "webhooks for delivery receipts, replies and unsubscribes.",
        lifespan=lifespan,
    )
    app.dependency_overrides[deps.get_settings] = lambda: chosen
    for router in (health.router, sms.router, email_router.router, unsubscribe.router,
                   campaigns.router, track.router):  # fmt: skip
        app.include_router(router)
    app.include_router(intake_router.router)  # event intake, /v1 (docs/intake.md)
    app.include_router(realtime_router.router)  # real-time status, /v1 (docs/realtime.md)

    # The REST API (docs/api.md) and the web UI (docs/web.md).
    rest = (
        customers,
        segments,
        metrics,
        campaigns_rest,
        automations,
        clv,
        subscriptions,
        settings_router,
        users,
    )
    for module in (*rest, keys):
        app.include_router(module.router)
    pages.mount(app)
    # One error body everywhere: {code, message, path, issues} (api/errors.py).
    errors.install(app)
    return app
