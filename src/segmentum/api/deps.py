"""Typed dependencies: the server settings (cached) and the running server."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from segmentum.service.server import Server, ServerSettings


@lru_cache
def get_settings() -> ServerSettings:
    """Settings from the environment, read once; `create_app(settings)` overrides this."""
    return ServerSettings.from_env()


def get_server(request: Request) -> Server:
    server = request.app.state.server
    assert isinstance(server, Server), "the app's lifespan has not started"
    return server


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
ServerDep = Annotated[Server, Depends(get_server)]
