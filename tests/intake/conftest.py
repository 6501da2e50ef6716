"""A workspace with a declared event type and custom attribute, API keys of every scope, and
helpers to run the app in-process or on a real port."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from segmentum.api.app import create_app
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import keys
from segmentum.service.server import Server, ServerSettings
from segmentum.service.workspace import Workspace


@dataclass
class Shop:
    db: str
    keys: dict[str, str]
    key_ids: dict[str, str]


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def prepare(path: Path) -> Shop:
    db = str(path / "intake.duckdb")
    ws = Workspace.open(db)
    try:
        data = ws.settings.model_dump(mode="json")
        data["customer_attributes"] = {"favourite_color": "text"}
        data["event_types"] = {"review_written": {"properties": {"rating": "integer"}}}
        ws.update_settings(WorkspaceSettings.model_validate(data))
        created = {scope: keys.create_key(ws, scope, f"{scope} key") for scope in keys.SCOPES}
    finally:
        ws.close()
    return Shop(
        db, {s: c.key for s, c in created.items()}, {s: c.key_id for s, c in created.items()}
    )


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return prepare(tmp_path)


def server_of(app: FastAPI) -> Server:
    server = app.state.server
    assert isinstance(server, Server)
    return server


def query(app: FastAPI, sql: str) -> list[tuple[Any, ...]]:
    with server_of(app).locked() as ws:
        return [tuple(row) for row in ws.engine.backend.con.execute(sql).fetchall()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Live:
    app: FastAPI
    url: str


@pytest.fixture
def live(shop: Shop) -> Iterator[Live]:
    """The app served by uvicorn on a free port in a thread of this process."""
    app = create_app(ServerSettings(db=shop.db, worker=False))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield Live(app, f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(30)
