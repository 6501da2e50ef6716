"""REST: segments CRUD, validation with codes and paths, preview, explain, members, history,
export, SQL; errors have one body; roles are enforced and actions audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.shop import IBIS_PANDAS_WARNING, build_shop, client_for, log_in

pytestmark = pytest.mark.filterwarnings(IBIS_PANDAS_WARNING)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_shop(Path(tmp_path_factory.mktemp("rest_segments")))


@pytest.fixture
def marketer(db: str) -> Iterator[TestClient]:
    with client_for(db) as client:
        log_in(client, "marketer")
        yield client


def test_unauthenticated_requests_get_the_error_body(db: str) -> None:
    with client_for(db) as client:
        answer = client.get("/api/segments")
    assert answer.status_code == 401
    body = answer.json()
    assert body["code"] == "unauthorized"
    assert body["path"] == "/api/segments"
    assert body["message"]


def test_list_shows_cached_sizes_and_sentences(marketer: TestClient) -> None:
    page = marketer.get("/api/segments", params={"limit": 2}).json()
    assert page["total"] == 3
    assert page["limit"] == 2
    assert len(page["items"]) == 2
    vip = marketer.get("/api/segments", params={"q": "vip"}).json()["items"][0]
    assert vip["size"] == 6
    assert "vip" in vip["sentence"]


def test_validate_reports_every_issue_with_code_and_path(marketer: TestClient) -> None:
    answer = marketer.post(
        "/api/segments/validate",
        json={
            "where": {"all": [{"attribute": {"feild": "country", "eq": "CZ"}}, {"has_tag": "vip"}]}
        },
    )
    body = answer.json()
    assert answer.status_code == 200
    assert body["valid"] is False
    assert body["issues"][0]["code"].startswith("SEG")
    assert body["issues"][0]["path"].startswith("/all/0")
    ok = marketer.post("/api/segments/validate", json={"where": "has_tag(vip)"}).json()
    assert ok["valid"] is True
    assert ok["text"] == "has_tag(vip)"


def test_preview_counts_and_samples(marketer: TestClient) -> None:
    body = marketer.post("/api/segments/preview", json={"where": "has_tag(vip)", "sample": 2})
    assert body.status_code == 200
    assert body.json()["count"] == 6
    assert body.json()["sample"] == ["C0000", "C0001"]
    bad = marketer.post("/api/segments/preview", json={"where": "orders(within 30x).count() > 1"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_definition"
    assert bad.json()["issues"]


def test_crud_members_history_explain_export_sql(marketer: TestClient) -> None:
    created = marketer.post("/api/segments", json={"name": "czech", "where": 'country = "CZ"'})
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert (
        marketer.post("/api/segments", json={"name": "czech", "where": "has_tag(vip)"}).status_code
        == 409
    )
    changed = marketer.put("/api/segments/czech", json={"where": 'country in ("CZ", "SK")'})
    assert changed.json()["version"] == 2
    members = marketer.get("/api/segments/czech/members", params={"limit": 4, "offset": 4})
    assert members.json()["total"] == 6
    assert [row["customer_id"] for row in members.json()["items"]] == ["C0004", "C0005"]
    explained = marketer.get("/api/segments/czech/explain/C0003").json()
    assert explained["conditions"]
    assert marketer.get("/api/segments/vip/history").json()[-1]["size"] == 6
    csv = marketer.get("/api/segments/czech/export", params={"columns": ["first_name"]})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == '"customer_id","first_name"'
    sql = marketer.get("/api/segments/czech/sql", params={"dialect": "postgres"}).json()
    assert "SELECT" in sql["sql"].upper()
    marketer.post(
        "/api/segments", json={"name": "buyers", "where": "orders(within 30d).count() >= 1"}
    )
    dated = marketer.get("/api/segments/buyers/sql", params={"as_of": "2024-04-10"}).json()
    assert "MAKE_TIMESTAMP(2024, 4, 10, 23, 59, 59.999999)" in dated["sql"]
    assert (
        "MAKE_TIMESTAMP(2024, 4, 10, 23, 59, 59.999999)"
        not in (marketer.get("/api/segments/buyers/sql").json()["sql"])
    )
    assert marketer.delete("/api/segments/czech").status_code == 204
    missing = marketer.get("/api/segments/czech")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_viewers_read_but_do_not_change_and_csrf_is_required(db: str) -> None:
    with client_for(db) as client:
        log_in(client, "viewer")
        assert client.get("/api/segments/vip").status_code == 200
        refused = client.post("/api/segments", json={"name": "nope", "where": "has_tag(vip)"})
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
    with client_for(db) as client:
        log_in(client, "marketer")
        del client.headers["X-CSRF-Token"]
        no_csrf = client.post("/api/segments/preview", json={"where": "has_tag(vip)"})
        assert no_csrf.status_code == 403
        assert "CSRF" in no_csrf.json()["message"]


def test_changes_are_in_the_audit_log(db: str) -> None:
    with client_for(db) as client:
        log_in(client, "marketer")
        client.put("/api/segments/audited", json={"where": "has_tag(vip)"})
        client.get("/api/segments/audited/export")
    with client_for(db) as client:
        log_in(client, "admin")
        entries = client.get("/api/audit", params={"object_id": "audited"}).json()["items"]
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("marketer", "export"),
        ("marketer", "create"),
    ]
