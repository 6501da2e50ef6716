"""The server process: the embedded worker delivers and stops; the workspace is held."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from segmentum.api.app import create_app
from segmentum.api.deps import get_settings
from segmentum.cli.app import app as cli
from segmentum.service.server import Server, ServerSettings
from tests.api.conftest import prepare

pytestmark = pytest.mark.usefixtures("secrets")


def test_the_embedded_worker_delivers_then_stops_with_the_app(tmp_path: Path) -> None:
    shop = prepare(tmp_path, deliver=False)
    app = create_app(ServerSettings(db=shop.db, worker=True, poll_seconds=0.05))
    with TestClient(app) as client:
        assert client.get("/health").json()["worker"] == "running"
        deadline = time.monotonic() + 30
        while client.get("/campaigns/spring").json()["state"] != "completed":
            assert time.monotonic() < deadline, client.get("/campaigns/spring").json()
            time.sleep(0.05)
        running = app.state.server
        assert isinstance(running, Server)
        ledger = client.get("/campaigns/spring").json()["ledger"]
    assert {row["status"] for row in ledger} == {"sent"}
    assert not running.worker_running
    lines = (shop.outbox / "sms.jsonl").read_text().splitlines()
    assert len(lines) == sum(row["messages"] for row in ledger)
    assert len({json.loads(line)["idempotency_key"] for line in lines}) == len(lines)


def test_while_the_server_runs_another_process_cannot_open_the_file(tmp_path: Path) -> None:
    shop = prepare(tmp_path)
    app = create_app(ServerSettings(db=shop.db, worker=False))
    script = (
        "import sys\n"
        "from segmentum.service.workspace import Workspace\n"
        "from segmentum.engine.connection import EngineError\n"
        "try:\n"
        f"    Workspace.open({shop.db!r})\n"
        "except EngineError as error:\n"
        "    print(error); sys.exit(3)\n"
    )
    with TestClient(app):
        other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=120, check=False)  # fmt: skip
    assert other.returncode == 3, other.stderr[-2000:]
    assert "in use by process" in other.stdout
    assert shop.db in other.stdout


def test_settings_come_from_a_cached_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("SEGMENTUM_DB", "/tmp/x.duckdb")
    monkeypatch.setenv("SEGMENTUM_SERVE_WORKER", "0")
    try:
        first = get_settings()
        assert first == ServerSettings(db="/tmp/x.duckdb", worker=False)
        assert get_settings() is first
        assert ServerSettings.from_env(first.to_env()) == first
    finally:
        get_settings.cache_clear()


def test_serve_is_a_command() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--no-worker"):
        assert option in result.output
