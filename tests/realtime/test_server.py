"""Through the server: an event posted to ``POST /v1/batch`` changes membership within a
micro-batch (the intake's ``on_committed`` → the real-time processor), effective at the
event's time, and ``GET /v1/realtime`` reports the commit → visible latency."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from segmentum.api.app import create_app
from segmentum.service import keys, realtime
from segmentum.service.membership import refresh_segments
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.server import ServerSettings
from segmentum.service.workspace import Workspace
from tests.automations.shop import add_customer


def test_a_posted_event_changes_membership(tmp_path: Path) -> None:
    db = str(tmp_path / "shop.duckdb")
    now = datetime.now(UTC).replace(microsecond=0)
    ws = Workspace.open(db)
    add_customer(ws, "C1", now - timedelta(days=10))
    add_customer(ws, "C2", now - timedelta(days=10))
    where = {"aggregate": {"of": "cart_updated", "within": "7d", "gte": 1}}
    create_segment(ws, "carting", DefinitionSource(data={"where": where}))
    refresh_segments(ws, at=now)
    ingest = keys.create_key(ws, "ingest", "t").key
    read = keys.create_key(ws, "read", "r").key
    ws.close()

    event_at = now - timedelta(minutes=3)
    message = {
        "type": "track", "userId": "C1", "event": "Product Added", "messageId": "m-1",
        "properties": {"cart_id": "K1", "product_id": "P1", "price": 10},
        "timestamp": event_at.isoformat().replace("+00:00", "Z"),
    }  # fmt: skip
    with TestClient(create_app(ServerSettings(db=db, worker=False))) as client:
        answer = client.post("/v1/batch", json={"batch": [message]}, auth=(ingest, ""))
        assert answer.status_code == 200
        server = client.app.state.server  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        rows: list[dict[str, object]] = []
        while time.monotonic() < deadline and not rows:
            with server.locked() as held:
                rows = held.store.query(
                    "SELECT customer_id, change, effective_at FROM membership_log "
                    "WHERE segment = 'carting'"
                )
            time.sleep(0.05)
        assert rows == [
            {"customer_id": "C1", "change": "entered",
             "effective_at": event_at.replace(tzinfo=None)}
        ]  # fmt: skip
        status = client.get("/v1/realtime", auth=(read, "")).json()
        assert status["batches"] >= 1
        assert status["changes"] == 1
        assert status["latency_p50"] is not None
        assert 0 < status["batch_seconds_p50"] <= status["batch_seconds_max"] < 30
        phases = status["batch_phase_seconds"]
        assert list(phases) == list(realtime.BATCH_PHASES)
        assert all(0 <= phases[p]["p50"] <= phases[p]["p95"] < 30 for p in phases)
        # the phases are the batch, split (one batch: its p50 is itself)
        if status["batches"] == 1:
            total = sum(phases[p]["p50"] for p in phases)
            assert abs(total - status["batch_seconds_p50"]) < 0.01
        assert status["timers"] >= 1  # C1's cart leaves the 7-day window one day
