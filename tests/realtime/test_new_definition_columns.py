"""A definition saved while micro-batches run may read a column no definition read before
(an event's ``csat``, a profile attribute): the next micro-batch stages and compiles against
the new columns, on the connection that made the old scoped tables (before the fix every
micro-batch failed to compile until the server restarted)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from segmentum.api.app import create_app
from segmentum.service import keys, realtime
from segmentum.service.membership import refresh_segments
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.server import Server, ServerSettings
from segmentum.service.workspace import Workspace
from segmentum.store import membership as membership_store
from tests.automations.shop import add_customer, add_event

NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


def _members(ws: Workspace, segment: str) -> list[str]:
    return membership_store.current_members(ws.store, segment)


@pytest.mark.parametrize(
    ("later", "record", "member"),
    [
        (  # an event column the first definition does not read
            {
                "aggregate": {
                    "of": "survey_response",
                    "within": "30d",
                    "gte": 1,
                    "where": [{"field": "csat", "lte": 2}],
                }
            },
            "events",
            "C1",
        ),
        (  # a profile column the first definition does not read
            {"attribute": {"field": "loyalty_tier", "eq": "vip"}},
            "customers",
            "C2",
        ),
    ],
)
def test_a_later_definition_reads_new_columns(
    tmp_path: Path, later: dict[str, object], record: str, member: str
) -> None:
    ws = Workspace.open(str(tmp_path / "shop.duckdb"))
    try:
        add_customer(ws, "C1", NOW - timedelta(days=40), loyalty_tier="basic")
        add_customer(ws, "C2", NOW - timedelta(days=40), loyalty_tier="vip")
        carting = {"aggregate": {"of": "cart_updated", "within": "7d", "gte": 1}}
        create_segment(ws, "carting", DefinitionSource(data={"where": carting}))
        refresh_segments(ws, at=NOW)
        add_event(ws, "e1", "C1", "cart_updated", NOW - timedelta(hours=1))
        realtime.touch(ws, ["C1"], {"events"}, now=NOW, event_types={"cart_updated"})
        assert _members(ws, "carting") == ["C1"]

        add_event(ws, "e2", "C1", "survey_response", NOW - timedelta(hours=1), csat=1)
        create_segment(ws, "later", DefinitionSource(data={"where": later}))
        report = realtime.touch(ws, ["C1", "C2"], {record}, now=NOW + timedelta(minutes=1),
                                event_types={"survey_response"})  # fmt: skip
        assert (report.customers, report.entered, report.exited) == (2, 1, 0)
        assert _members(ws, "later") == [member]
        assert _members(ws, "carting") == ["C1"]
    finally:
        ws.close()


def _log(server: Server, segment: str) -> list[dict[str, object]]:
    deadline = time.monotonic() + 30
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline and not rows:
        with server.locked() as held:
            rows = held.store.query(
                "SELECT customer_id, change FROM membership_log WHERE segment = ?", (segment,)
            )
        time.sleep(0.05)
    return rows


def test_through_the_server(tmp_path: Path) -> None:
    """The server's processor has compiled and staged for the first definition when the
    second is saved; an event posted after it changes the new segment."""
    db = str(tmp_path / "shop.duckdb")
    now = datetime.now(UTC).replace(microsecond=0)
    ws = Workspace.open(db)
    add_customer(ws, "C1", now - timedelta(days=40))
    carting = {"aggregate": {"of": "cart_updated", "within": "7d", "gte": 1}}
    create_segment(ws, "carting", DefinitionSource(data={"where": carting}))
    refresh_segments(ws, at=now)
    ingest = keys.create_key(ws, "ingest", "t").key
    ws.close()

    def track(message_id: str, event: str, properties: dict[str, object]) -> dict[str, object]:
        return {"type": "track", "userId": "C1", "event": event, "messageId": message_id,
                "properties": properties}  # fmt: skip

    with TestClient(create_app(ServerSettings(db=db, worker=False))) as client:
        server = client.app.state.server  # type: ignore[attr-defined]
        cart = track("m1", "Product Added", {"cart_id": "K1", "product_id": "P1", "price": 10})
        assert (
            client.post("/v1/batch", json={"batch": [cart]}, auth=(ingest, "")).status_code == 200
        )
        assert _log(server, "carting") == [{"customer_id": "C1", "change": "entered"}]
        unhappy = {"aggregate": {"of": "survey_response", "within": "30d", "gte": 1,
                                 "where": [{"field": "csat", "lte": 2}]}}  # fmt: skip
        with server.locked() as held:
            create_segment(held, "unhappy", DefinitionSource(data={"where": unhappy}))
        answer = track("m2", "Survey Response", {"survey_id": "S1", "csat": 1})
        assert (
            client.post("/v1/batch", json={"batch": [answer]}, auth=(ingest, "")).status_code == 200
        )
        assert _log(server, "unhappy") == [{"customer_id": "C1", "change": "entered"}]
