"""Fault test: a client re-sends batches while the server process is killed (SIGKILL) at
random moments and restarted; every acknowledged message is stored exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from segmentum.service.workspace import Workspace
from tests.intake.conftest import basic, free_port, prepare

KILLS = 10
BATCH = 50
#: A parent that imports everything once (seconds), then forks one server process per line
#: read from stdin and prints its pid: a restart takes a fork and a workspace open, not a
#: fresh interpreter. Each server is a separate process, killed with SIGKILL by pid.
ZYGOTE = """
import os, signal, sys
import ibis
import uvicorn
ibis.duckdb  # the backend loads lazily: load it before forking
from segmentum.api.app import create_app
from segmentum.service.server import ServerSettings
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed servers are reaped at once
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        app = create_app(ServerSettings(db=sys.argv[1], worker=False))
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
        os._exit(0)
    print(pid, flush=True)
"""


def _zygote(db: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, db, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=out,
            env={**os.environ, "SEGMENTUM_INTAKE_WAIT_MS": "2"},
        )


def _spawn(zygote: subprocess.Popen[bytes]) -> int:
    assert zygote.stdin is not None
    assert zygote.stdout is not None
    zygote.stdin.write(b"go\n")
    zygote.stdin.flush()
    return int(zygote.stdout.readline())


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError(f"server {pid} did not die")


def _wait_up(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server did not come up")


@pytest.mark.slow
def test_acknowledged_messages_survive_sigkill_exactly_once(tmp_path: Path) -> None:
    shop = prepare(tmp_path)
    port = free_port()
    log = tmp_path / "server.log"
    rng = random.Random(7)
    zygote = _zygote(shop.db, port, log)
    pid = _spawn(zygote)
    _wait_up(port, time.monotonic() + 60)
    acked: set[str] = set()
    sent: set[str] = set()
    stop = threading.Event()
    kills = 0

    def client() -> None:
        headers = basic(shop.keys["ingest"])
        number = 0
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                ids = [f"b{number}-{i}" for i in range(BATCH)]
                batch = [
                    {
                        "type": "track",
                        "userId": f"C{rng.randrange(200)}",
                        "event": "Review Written",
                        "messageId": m,
                        "properties": {"rating": 3},
                    }
                    for m in ids
                ]
                sent.update(ids)
                while not stop.is_set():  # re-send the same batch until it is acknowledged
                    try:
                        answer = http.post(
                            f"http://127.0.0.1:{port}/v1/batch",
                            json={"batch": batch},
                            headers=headers,
                        )
                    except httpx.HTTPError:
                        time.sleep(0.02)
                        continue
                    if answer.status_code == 200:
                        body = answer.json()
                        assert body["rejected"] == []
                        acked.update(item["messageId"] for item in body["accepted"])
                        break
                    time.sleep(0.02)
                number += 1

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        while kills < KILLS and time.monotonic() - started < 80:
            time.sleep(rng.uniform(0.1, 0.6))
            _kill(pid)
            kills += 1
            pid = _spawn(zygote)
            _wait_up(port, time.monotonic() + 60)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(30)
        _kill(pid)
        for pipe in (zygote.stdin, zygote.stdout):
            if pipe is not None:
                pipe.close()
        zygote.wait(30)
    assert kills >= KILLS
    assert len(acked) > BATCH * KILLS, "too few acknowledged messages to mean anything"
    ws = Workspace.open(shop.db)
    try:
        con = ws.engine.backend.con
        counts = dict(con.execute("SELECT event_id, count(*) FROM events GROUP BY 1").fetchall())
        logged = dict(
            con.execute("SELECT message_id, count(*) FROM intake_messages GROUP BY 1").fetchall()
        )
    finally:
        ws.close()
    missing = acked - set(counts)
    assert missing == set(), f"{len(missing)} acknowledged messages were lost"
    assert {k: v for k, v in counts.items() if v != 1} == {}
    assert {k: v for k, v in logged.items() if v != 1} == {}
    assert set(counts) <= sent
    assert set(counts) == set(logged)
