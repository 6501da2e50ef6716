"""Every CLI capability has a REST endpoint (issue 10), checked against the Typer app and the
OpenAPI schema; and the endpoints added for it: table stats, the segment report, the warehouse
check, saving a campaign's responders, and CLV (summary, fit, predict, refresh, validate)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from segmentum.api.app import create_app
from segmentum.cli.app import app as cli_app
from segmentum.service import users
from segmentum.service.server import ServerSettings
from segmentum.service.workspace import Workspace
from tests.web.shop import IBIS_PANDAS_WARNING, PASSWORD, build_shop, client_for, log_in

pytestmark = pytest.mark.filterwarnings(IBIS_PANDAS_WARNING)

#: CLI command → the REST operation that does the same.
ENDPOINTS = {
    "automations create": "POST /api/automations",
    "automations dead-letters": "GET /api/automations/dead-letters",
    "automations install-library": "POST /api/automations/library/install",
    "automations list": "GET /api/automations",
    "automations pause": "POST /api/automations/{name}/pause",
    "automations resume": "POST /api/automations/{name}/resume",
    "campaigns cancel": "DELETE /api/campaigns/{campaign_id}",
    "campaigns create": "POST /api/campaigns",
    "campaigns dry-run": "POST /api/campaigns/{campaign_id}/dry-run",
    "campaigns list": "GET /api/campaigns",
    "campaigns pause": "POST /api/campaigns/{campaign_id}/pause",
    "campaigns preview": "GET /api/campaigns/{campaign_id}/preview",
    "campaigns report": "GET /api/campaigns/{campaign_id}/report",
    "campaigns resume": "POST /api/campaigns/{campaign_id}/resume",
    "campaigns save-responders": "POST /api/campaigns/{campaign_id}/save-responders",
    "campaigns send": "POST /api/campaigns/{campaign_id}/send",
    "campaigns status": "GET /api/campaigns/{campaign_id}/status",
    "campaigns test-send": "POST /api/campaigns/{campaign_id}/test-send",
    "clv": "POST /api/clv/predict",
    "clv fit": "POST /api/clv/fit",
    "clv refresh": "POST /api/clv/refresh",
    "clv summary": "GET /api/clv/summary",
    "clv validate": "POST /api/clv/validate",
    "customers export": "GET /api/customers/{customer_id}/export",
    "customers forget": "POST /api/customers/{customer_id}/forget",
    "customers show": "GET /api/customers/{customer_id}",
    "ingest": "POST /v1/batch",
    "keys create": "POST /api/keys",
    "keys list": "GET /api/keys",
    "keys revoke": "DELETE /api/keys/{key_id}",
    "lifecycle": "GET /api/lifecycle",
    "report segments": "GET /api/reports/segments",
    "rfm": "GET /api/rfm",
    "segments create": "POST /api/segments",
    "segments delete": "DELETE /api/segments/{name}",
    "segments explain": "GET /api/segments/{name}/explain/{customer_id}",
    "segments export": "GET /api/segments/{name}/export",
    "segments history": "GET /api/segments/{name}/history",
    "segments install-library": "POST /api/segments/library/install",
    "segments list": "GET /api/segments",
    "segments members": "GET /api/segments/{name}/members",
    "segments preview": "POST /api/segments/preview",
    "segments refresh": "POST /api/segments/refresh",
    "segments show": "GET /api/segments/{name}",
    "segments sql": "GET /api/segments/{name}/sql",
    "segments upload-list": "PUT /api/segments/lists/{list_name}",
    "segments validate": "POST /api/segments/validate",
    "sms count": "POST /api/campaigns/sms-count",
    "stats": "GET /api/stats",
    "users create": "POST /api/users",
    "users disable": "PATCH /api/users/{username}",
    "users list": "GET /api/users",
    "workspace check": "GET /api/settings/check",
    "workspace import": "PATCH /api/settings",
    "workspace set": "PATCH /api/settings",
    "workspace show": "GET /api/settings",
}
#: Commands without an endpoint, and why.
NOT_OVER_HTTP = {
    "demo": "generates a whole demo workspace; a set-up step, not an API",
    "demo generate": "writes demo CSV files to a local folder",
    "import customers": "reads a file on the server's disk; HTTP clients use /v1 intake",
    "import events": "as above",
    "import order-items": "as above",
    "import orders": "as above",
    "import products": "as above",
    "import returns": "as above",
    "import subscriptions": "as above",
    "serve": "is the server",
    "worker": "runs in the server (embedded worker)",
    "workspace prepare-realtime": "rewrites the database file the server has open; run it "
    "before `serve`",
}


def _commands(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(prefix)
        return
    if prefix and getattr(command, "invoke_without_command", False):
        yield " ".join(prefix)
    for name, sub in subcommands.items():
        yield from _commands(sub, (*prefix, name))


def test_every_cli_command_has_an_endpoint_or_a_reason(tmp_path: Path) -> None:
    commands = set(_commands(typer.main.get_command(cli_app)))
    assert commands == set(ENDPOINTS) | set(NOT_OVER_HTTP)
    schema = create_app(ServerSettings(db=str(tmp_path / "x.duckdb"), worker=False)).openapi()
    operations = {
        f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item
    }
    missing = {cli: rest for cli, rest in ENDPOINTS.items() if rest not in operations}
    assert missing == {}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_shop(Path(tmp_path_factory.mktemp("parity")))


@pytest.fixture
def admin(db: str) -> Iterator[TestClient]:
    with client_for(db) as client:
        log_in(client, "admin")
        yield client


def test_stats_count_every_table(admin: TestClient) -> None:
    rows = admin.get("/api/stats").json()
    assert [(row["table"], row["rows"], row["time_column"]) for row in rows] == [
        ("customers", 6, "signup_at"),
        ("products", 0, None),
        ("orders", 0, "ordered_at"),
        ("order_items", 0, None),
        ("returns", 0, "returned_at"),
        ("events", 0, "occurred_at"),
        ("subscriptions", 12, "changed_at"),
    ]


def test_segment_report_between_two_days(admin: TestClient) -> None:
    today = admin.get("/api/segments/vip/history").json()[-1]["effective_at"][:10]
    report = admin.get("/api/reports/segments", params={"from": today, "to": today}).json()
    assert report["sizes"] == [{"segment": "vip", "date": today, "size": 6}]
    assert report["lifecycle_transitions"] == [{"from": "zero", "to": "zero", "customers": 6}]
    backwards = admin.get(
        "/api/reports/segments", params={"from": "2026-02-02", "to": "2026-02-01"}
    )
    assert backwards.status_code == 400
    assert backwards.json()["message"] == "--from must not be after --to"
    centuries = admin.get("/api/reports/segments", params={"from": "1026-01-01"})
    assert centuries.status_code == 400
    assert centuries.json()["message"] == "the report covers at most 3660 days"


def test_workspace_check_is_for_admins(db: str, admin: TestClient) -> None:
    checked = admin.get("/api/settings/check", params={"schema_only": True}).json()
    assert (checked["ok"], checked["data_checked"], checked["problems"]) == (True, False, [])
    with client_for(db) as client:
        log_in(client, "marketer")
        assert client.get("/api/settings/check").status_code == 403


def test_uploaded_list_is_what_in_list_reads(db: str, admin: TestClient) -> None:
    ids = [" C0001", "C0004", "C0001", "", "nobody"]
    uploaded = admin.put("/api/segments/lists/press_contacts", json={"customer_ids": ids})
    assert uploaded.json() == {
        "list": "press_contacts",
        "customers": 3,
        "unknown": 1,
        "unknown_sample": ["nobody"],
    }
    preview = admin.post(
        "/api/segments/preview", json={"where": "in_list(press_contacts)", "sample": 10}
    ).json()
    assert (preview["count"], sorted(preview["sample"])) == (
        2,
        ["C0001", "C0004"],
    )
    again = admin.put("/api/segments/lists/press_contacts", json={"customer_ids": ["C0004"]})
    assert again.json() == {
        "list": "press_contacts",
        "customers": 1,
        "unknown": 0,
        "unknown_sample": [],
    }
    nul = admin.put("/api/segments/lists/press_contacts", json={"customer_ids": ["c\u0000"]})
    assert (nul.status_code, nul.json()["message"]) == (
        400,
        "customer ids must not contain NUL characters",
    )
    with client_for(db) as client:
        log_in(client, "viewer")
        refused = client.put("/api/segments/lists/x", json={"customer_ids": ["C0001"]})
        assert refused.status_code == 403


def test_save_responders_creates_a_segment(admin: TestClient) -> None:
    saved = admin.post("/api/campaigns/spring/save-responders", json={"name": "spring_fans"})
    assert saved.status_code == 201, saved.text
    assert saved.json()["text"] == (
        "message(clicked, campaign = spring) or message(replied, campaign = spring) "
        "or message(converted, campaign = spring, conversion_days = 7)"
    )
    again = admin.post("/api/campaigns/spring/save-responders", json={"name": "spring_fans"})
    assert again.status_code == 409
    missing = admin.post("/api/campaigns/ghost/save-responders", json={"name": "ghost_fans"})
    assert (missing.status_code, missing.json()["message"]) == (404, "no campaign named 'ghost'")


def test_clv_refuses_to_fit_without_repeat_buyers(admin: TestClient) -> None:
    answer = admin.post("/api/clv/fit")
    assert answer.status_code == 400
    assert answer.json()["message"] == (
        "cannot fit the CLV models: BG/NBD needs customers with repeat purchases"
    )
    predicted = admin.post("/api/clv/predict")
    assert predicted.json()["message"] == "no fitted CLV model: run `segmentum clv fit` first"


AS_OF = "2025-06-30"
#: Demo customers with an order by AS_OF (the demo generator is seeded): the BTYD summary's.
BUYERS = 239


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = str(tmp_path_factory.mktemp("clv") / "shop.duckdb")
    arguments = ["--db", db, "demo", "--customers", "300", "--orders", "3000", "--end", AS_OF]
    result = CliRunner().invoke(cli_app, arguments)
    assert result.exit_code == 0, result.stderr
    ws = Workspace.open(db)
    try:
        users.create_user(ws, "marketer", PASSWORD, "marketer")
    finally:
        ws.close()
    return db


def test_clv_summary_fit_predict_refresh_and_validate(demo_db: str) -> None:
    with client_for(demo_db) as client:
        log_in(client, "marketer")
        summary = client.get("/api/clv/summary", params={"as_of": AS_OF, "limit": 2}).json()
        assert summary["total"] == BUYERS
        assert list(summary["items"][0]) == ["customer_id", "frequency", "recency", "T", "monetary"]
        fitted = client.post("/api/clv/fit", params={"as_of": AS_OF, "period": "W"}).json()
        assert (fitted["as_of"], fitted["period"]) == (AS_OF, "W")
        assert list(fitted["bgnbd"]) == ["r", "alpha", "a", "b", "log_likelihood"]
        predicted = client.post("/api/clv/predict", params={"limit": 3, "offset": 1}).json()
        assert predicted["total"] == BUYERS
        same = client.get("/api/clv/summary", params={"as_of": AS_OF, "limit": 3, "offset": 1})
        assert [row["customer_id"] for row in predicted["items"]] == [
            row["customer_id"] for row in same.json()["items"]
        ]
        assert list(predicted["items"][0]) == [
            "customer_id",
            "p_alive",
            "expected_purchases",
            "expected_aov",
            "clv",
        ]
        refreshed = client.post("/api/clv/refresh", params={"as_of": AS_OF}).json()
        assert (refreshed["as_of"], refreshed["customers"], refreshed["horizon_days"]) == (
            AS_OF,
            BUYERS,
            365,
        )
        checked = client.post(
            "/api/clv/validate", json={"calibration_end": "2025-03-31", "as_of": AS_OF}
        ).json()
        assert (checked["calibration_end"], checked["end"], checked["period"]) == (
            "2025-03-31",
            AS_OF,
            "D",
        )
        assert sum(group["customers"] for group in checked["groups"]) > 0
