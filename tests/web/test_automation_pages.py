"""The automation pages without a browser: what each role sees, pause and resume through the
form (CSRF token, marketer role, audit), and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentum.service import automations
from segmentum.service.workspace import Workspace
from tests.web.shop import IBIS_PANDAS_WARNING, build_shop, client_for, log_in

pytestmark = pytest.mark.filterwarnings(IBIS_PANDAS_WARNING)

TAG_VIPS = {
    "name": "tag_vips",
    "description": "Tag whoever becomes a VIP.",
    "trigger": {"segment": "vip", "when": "enter"},
    "action": {"type": "tag", "add": ["vip_welcomed"]},
    "delay": "3d",
}


@pytest.fixture
def db(tmp_path: Path) -> str:
    db = build_shop(tmp_path)
    ws = Workspace.open(db)
    try:
        automations.create_automation(ws, automations.parse_automation(TAG_VIPS))
    finally:
        ws.close()
    return db


def test_the_list_shows_trigger_action_and_state(db: str) -> None:
    with client_for(db) as client:
        log_in(client, "marketer")
        page = client.get("/ui/automations")
    assert page.status_code == 200
    html = page.text
    assert '<tr data-automation="tag_vips">' in html
    assert 'enters <a href="/ui/segments/vip">vip</a><br><small>after 3d</small>' in html
    assert "<td>tag +vip_welcomed</td>" in html
    assert '<span class="state active">active</span>' in html
    assert 'action="/ui/automations/tag_vips/pause"' in html
    assert 'href="/ui/automations" aria-current="page">Automations</a>' in html


def test_a_marketer_pauses_and_resumes_and_it_is_audited(db: str) -> None:
    with client_for(db) as client:
        token = log_in(client, "marketer")
        paused = client.post(
            "/ui/automations/tag_vips/pause",
            data={"csrf_token": token, "back": "list"},
            follow_redirects=False,
        )
        assert (paused.status_code, paused.headers["location"]) == (303, "/ui/automations")
        assert '<span class="state paused">paused</span>' in client.get("/ui/automations").text
        resumed = client.post(
            "/ui/automations/tag_vips/resume", data={"csrf_token": token}, follow_redirects=False
        )
        assert resumed.headers["location"] == "/ui/automations/tag_vips"
        detail = client.get("/ui/automations/tag_vips").text
        assert '<span class="state active" id="state">active</span>' in detail
    with client_for(db) as client:
        log_in(client, "admin")
        entries = client.get(
            "/api/audit", params={"object_type": "automation", "object_id": "tag_vips"}
        ).json()["items"]
    assert [(entry["actor"], entry["action"]) for entry in entries] == [
        ("marketer", "resume"),
        ("marketer", "pause"),
    ]


def test_viewers_read_without_buttons_and_are_refused_a_pause(db: str) -> None:
    with client_for(db) as client:
        token = log_in(client, "viewer")
        assert "/pause" not in client.get("/ui/automations").text
        assert "/pause" not in client.get("/ui/automations/tag_vips").text
        refused = client.post("/ui/automations/tag_vips/pause", data={"csrf_token": token})
        assert refused.status_code == 403
        assert "This needs the marketer role; you are a viewer." in refused.text


def test_a_form_without_its_token_or_for_no_automation_is_refused(db: str) -> None:
    with client_for(db) as client:
        token = log_in(client, "marketer")
        forged = client.post("/ui/automations/tag_vips/pause", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        assert "missing or wrong CSRF token" in forged.text
        missing = client.post("/ui/automations/ghost/pause", data={"csrf_token": token})
        assert missing.status_code == 404
        assert "no automation named &#39;ghost&#39;" in missing.text
        assert client.get("/ui/automations/ghost").status_code == 404
