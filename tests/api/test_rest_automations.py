"""REST: automations — create, list with filters and pages, read, replace, pause, resume,
runs, delete, the seed library and dead letters; errors have one body; roles are enforced
and changes audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from segmentum.service import automations as automation_service
from tests.web.shop import IBIS_PANDAS_WARNING, build_shop, client_for, log_in

pytestmark = pytest.mark.filterwarnings(IBIS_PANDAS_WARNING)

LIBRARY = [
    "welcome_new_subscribers",
    "purchase_follow_up",
    "abandoned_cart_reminder",
    "survey_reminder",
    "survey_reminder_second",
    "win_back",
]


def vip_sms(name: str = "vip_hello", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "Hello to new VIPs.",
        "trigger": {"segment": "vip", "when": "enter"},
        "action": {"type": "send", "channel": "sms", "template": {"body": "Hi {{ first_name }}"}},
        **extra,
    }


@pytest.fixture
def db(tmp_path: Path) -> str:
    return build_shop(tmp_path)


@pytest.fixture
def marketer(db: str) -> Iterator[TestClient]:
    with client_for(db) as client:
        log_in(client, "marketer")
        yield client


def test_create_read_and_list(marketer: TestClient) -> None:
    created = marketer.post("/api/automations", json=vip_sms(delay="24h"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert {key: body[key] for key in ("name", "state", "trigger", "action", "delay")} == {
        "name": "vip_hello",
        "state": "active",
        "trigger": {"segment": "vip", "when": "enter"},
        "action": "send sms",
        "delay": "24h",
    }
    assert body["runs"] == {"pending": 0, "done": 0, "skipped": 0, "failed": 0}
    assert body["definition"] == {
        "name": "vip_hello",
        "description": "Hello to new VIPs.",
        "trigger": {"segment": "vip", "when": "enter"},
        "action": {"type": "send", "channel": "sms", "template": {"body": "Hi {{ first_name }}"}},
        "delay": "24h",
        "if_still": True,
        "skip_initial": True,
    }
    assert marketer.get("/api/automations/vip_hello").json() == body
    tag = {"type": "tag", "add": ["lost"]}
    marketer.post(
        "/api/automations",
        json=vip_sms("lapsed_tag", trigger={"segment": "lapsed", "when": "exit"}, action=tag),
    )
    listed = marketer.get("/api/automations").json()
    assert listed["total"] == 2
    assert [
        (row["automation"], row["trigger"], row["action"], row["delay"], row["recent_runs"])
        for row in listed["items"]
    ] == [
        ("lapsed_tag", "exit lapsed", "tag +lost", "", 0),
        ("vip_hello", "enter vip", "send sms", "24h", 0),
    ]
    second = marketer.get("/api/automations", params={"limit": 1, "offset": 1}).json()
    assert [row["automation"] for row in second["items"]] == ["vip_hello"]
    assert (second["total"], second["limit"], second["offset"]) == (2, 1, 1)
    by_segment = marketer.get("/api/automations", params={"segment": "lapsed"}).json()
    assert [row["automation"] for row in by_segment["items"]] == ["lapsed_tag"]


@pytest.mark.parametrize(
    ("definition", "status", "code", "message"),
    [
        (
            vip_sms(trigger={"segment": "nope"}),
            400,
            "bad_request",
            "automation vip_hello: no segment 'nope'",
        ),
        (
            vip_sms(action={"type": "send", "channel": "sms", "template": {"text": "x"}}),
            400,
            "bad_request",
            "invalid automation vip_hello: action.template: body: Field required; "
            "text: Extra inputs are not permitted",
        ),
        (
            vip_sms(delay="2 months"),
            422,
            "validation_error",
            "invalid request: /body/delay: Value error, delay is hours, days or weeks: 24h, 3d, 1w",
        ),
    ],
)
def test_invalid_definitions_are_refused_with_the_error_body(
    marketer: TestClient, definition: dict[str, Any], status: int, code: str, message: str
) -> None:
    answer = marketer.post("/api/automations", json=definition)
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["message"] == message
    assert answer.json()["path"] == "/api/automations"


def test_a_taken_name_conflicts_and_an_unknown_one_is_not_found(marketer: TestClient) -> None:
    assert marketer.post("/api/automations", json=vip_sms()).status_code == 201
    taken = marketer.post("/api/automations", json=vip_sms())
    assert taken.status_code == 409
    assert taken.json()["message"] == "an automation named 'vip_hello' exists already"
    for method, path in (
        ("GET", "/api/automations/ghost"),
        ("DELETE", "/api/automations/ghost"),
        ("POST", "/api/automations/ghost/pause"),
        ("GET", "/api/automations/ghost/runs"),
    ):
        missing = marketer.request(method, path)
        assert missing.status_code == 404, path
        assert missing.json() == {
            "code": "not_found",
            "message": "no automation named 'ghost'",
            "path": path,
            "issues": [],
            "detail": "no automation named 'ghost'",
        }


def test_put_replaces_keeps_the_state_and_creates_when_missing(marketer: TestClient) -> None:
    marketer.post("/api/automations", json=vip_sms())
    assert marketer.post("/api/automations/vip_hello/pause").json() == {
        "automation": "vip_hello",
        "state": "paused",
    }
    changed = marketer.put("/api/automations/vip_hello", json=vip_sms(delay="3d"))
    assert changed.status_code == 200, changed.text
    assert (changed.json()["state"], changed.json()["delay"]) == ("paused", "3d")
    renamed = marketer.put("/api/automations/vip_hello", json=vip_sms("other"))
    assert renamed.status_code == 400
    assert renamed.json()["message"] == (
        "automation vip_hello: the name cannot change (got 'other'); "
        "create a new automation instead"
    )
    fresh = marketer.put("/api/automations/fresh", json=vip_sms("fresh"))
    assert (fresh.status_code, fresh.json()["state"]) == (200, "active")
    paused = marketer.get("/api/automations", params={"state": "paused"}).json()
    assert [row["automation"] for row in paused["items"]] == ["vip_hello"]
    assert marketer.post("/api/automations/vip_hello/resume").json()["state"] == "active"


def test_runs_show_each_firing_and_delete_removes_them(marketer: TestClient) -> None:
    segment = marketer.post("/api/segments", json={"name": "c3", "where": 'customer_id = "C0003"'})
    assert segment.status_code == 201, segment.text
    tag = {"type": "tag", "add": ["welcomed"]}
    definition = vip_sms("tag_c3", trigger={"segment": "c3"}, action=tag, skip_initial=False)
    assert marketer.post("/api/automations", json=definition).status_code == 201
    assert marketer.post("/api/segments/refresh").status_code == 200
    server = marketer.app.state.server  # type: ignore[attr-defined]
    with server.locked() as ws:
        automation_service.worker_step(ws)

    runs = marketer.get("/api/automations/tag_c3/runs").json()
    assert runs["total"] == 1
    run = runs["items"][0]
    assert {key: run[key] for key in ("automation", "customer_id", "segment", "change")} == {
        "automation": "tag_c3",
        "customer_id": "C0003",
        "segment": "c3",
        "change": "entered",
    }
    assert (run["status"], run["outcome"]) == ("done", "tagged")
    assert marketer.get("/api/automations/tag_c3/runs", params={"status": "failed"}).json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }
    row = marketer.get("/api/automations", params={"q": "tag_c3"}).json()["items"][0]
    assert (row["done"], row["recent_runs"]) == (1, 1)
    assert row["last_run_at"] == run["effective_at"]

    assert marketer.delete("/api/automations/tag_c3").status_code == 204
    assert marketer.get("/api/automations/tag_c3").status_code == 404
    with server.locked() as ws:
        assert ws.store.scalar("SELECT count(*) FROM automation_runs") == 0


def test_the_library_installs_what_the_workspace_has_segments_for(marketer: TestClient) -> None:
    assert [entry["name"] for entry in marketer.get("/api/automations/library").json()] == LIBRARY
    before = marketer.post("/api/automations/library/install").json()
    assert [(row["name"], row["status"]) for row in before] == [(n, "skipped") for n in LIBRARY]
    assert before[0]["detail"] == "automation welcome_new_subscribers: no segment 'new_subscribers'"
    marketer.post("/api/segments/library/install")
    after = marketer.post("/api/automations/library/install").json()
    assert [(row["name"], row["status"]) for row in after] == [(n, "installed") for n in LIBRARY]
    listed = marketer.get("/api/automations").json()
    assert [row["automation"] for row in listed["items"]] == sorted(LIBRARY)
    again = marketer.post("/api/automations/library/install").json()
    assert {row["status"] for row in again} == {"exists"}


def test_dead_letters_are_a_page(marketer: TestClient) -> None:
    assert marketer.get("/api/automations/dead-letters").json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }


def test_viewers_read_but_do_not_change(db: str) -> None:
    with client_for(db) as client:
        log_in(client, "marketer")
        client.post("/api/automations", json=vip_sms())
    with client_for(db) as client:
        log_in(client, "viewer")
        assert client.get("/api/automations/vip_hello").status_code == 200
        assert client.get("/api/automations/vip_hello/runs").status_code == 200
        for method, path in (
            ("POST", "/api/automations/vip_hello/pause"),
            ("POST", "/api/automations/vip_hello/resume"),
            ("DELETE", "/api/automations/vip_hello"),
            ("POST", "/api/automations/library/install"),
        ):
            refused = client.request(method, path)
            assert refused.status_code == 403, path
            assert refused.json()["message"] == "this needs the marketer role; you are viewer"
        assert client.post("/api/automations", json=vip_sms("mine")).status_code == 403


def test_changes_are_in_the_audit_log(db: str) -> None:
    with client_for(db) as client:
        log_in(client, "marketer")
        client.post("/api/automations", json=vip_sms())
        client.put("/api/automations/vip_hello", json=vip_sms(delay="1w"))
        client.post("/api/automations/vip_hello/pause")
        client.post("/api/automations/vip_hello/resume")
        client.delete("/api/automations/vip_hello")
    with client_for(db) as client:
        log_in(client, "admin")
        entries = client.get(
            "/api/audit", params={"object_type": "automation", "object_id": "vip_hello"}
        ).json()["items"]
    assert [(entry["actor"], entry["action"]) for entry in entries] == [
        ("marketer", "delete"),
        ("marketer", "resume"),
        ("marketer", "pause"),
        ("marketer", "update"),
        ("marketer", "create"),
    ]
