"""End-to-end in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): log in,
build a segment in the builder and see the live count, create a campaign through the wizard to
its dry run, open the report, and a viewer is refused a send; the seed automations are listed,
a marketer pauses and resumes one, a viewer sees them read-only. Every page visited is saved as a
screenshot under test-artifacts/web/ (phone-width ones too)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from segmentum.api.app import create_app
from segmentum.service import automations, library
from segmentum.service.server import ServerSettings
from segmentum.service.workspace import Workspace
from tests.web.shop import IBIS_PANDAS_WARNING, PASSWORD, build_shop

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = os.environ.get("SEGMENTUM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(IBIS_PANDAS_WARNING),
    pytest.mark.skipif(
        not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]


#: The seed automations (`segmentum automations install-library`), by name.
AUTOMATIONS = (
    "abandoned_cart_reminder",
    "purchase_follow_up",
    "survey_reminder",
    "survey_reminder_second",
    "welcome_new_subscribers",
    "win_back",
)


def _install_automations(db: str) -> None:
    """The seed segments, then the seed automations that listen to them."""
    ws = Workspace.open(db)
    try:
        library.install_library(ws)
        installed = automations.install_library(ws)
        assert {row["status"] for row in installed} == {"installed"}, installed
    finally:
        ws.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = build_shop(Path(tmp_path_factory.mktemp("browser")))
    _install_automations(db)
    port = _free_port()
    config = uvicorn.Config(
        create_app(ServerSettings(db=db, worker=False)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def _page(browser: Browser, width: int = 1280) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900})
    return context.new_page()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _log_in(page: Page, base_url: str, user: str, next_path: str = "/") -> None:
    page.goto(f"{base_url}{next_path}")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_marketer_builds_a_segment_and_a_campaign_to_its_dry_run(
    browser: Browser, base_url: str
) -> None:
    page = _page(browser)
    _log_in(page, base_url, "marketer")
    expect(page.locator("#base-size")).to_have_text("6")
    _shot(page, "dashboard")

    page.goto(f"{base_url}/ui/segments")
    expect(page.get_by_role("link", name="vip", exact=True)).to_be_visible()
    _shot(page, "segments")

    page.goto(f"{base_url}/ui/segments/new")
    page.fill("#seg-name", "czech_vips")
    page.select_option("#kind", "attribute")
    page.click("#add-condition")
    page.select_option("#kind", "subscription")
    page.click("#add-condition")
    expect(page.locator("#where")).to_have_value('country = "CZ" and subscribed(sms)')
    expect(page.locator("#live-count")).to_have_text("6", timeout=20_000)
    expect(page.locator("#sentence")).not_to_be_empty()
    expect(page.locator("#sample li")).to_have_count(6)
    page.fill("#where", "orders(within 30x).count() > 1")
    expect(page.locator("#issues li").first).to_contain_text("SEG", timeout=20_000)
    _shot(page, "segment-builder-errors")
    page.fill("#where", 'country = "CZ" and subscribed(sms)')
    expect(page.locator("#live-count")).to_have_text("6", timeout=20_000)
    _shot(page, "segment-builder")
    page.click("#save-segment")
    expect(page).to_have_url(re.compile(r"/ui/segments/czech_vips$"))
    _shot(page, "segment")

    page.goto(f"{base_url}/ui/customers/C0001")
    page.locator("details.why summary").first.click()
    expect(page.locator("details.why .explain table").first).to_be_visible(timeout=20_000)
    _shot(page, "customer")

    page.goto(f"{base_url}/ui/campaigns/new")
    page.fill("#campaign-name", "autumn")
    page.check("input.include[value=czech_vips]")
    page.check("input.exclude[value=complained]")
    expect(page.locator("#audience-count")).to_have_text("6", timeout=20_000)
    _shot(page, "wizard-audience")
    page.click("#to-templates")
    expect(page).to_have_url(re.compile(r"/ui/campaigns/autumn/wizard/templates"))
    page.fill("fieldset.template .body", "Ahoj {{ first_name }}, podzimní sleva 20 %!")
    expect(page.locator("#preview")).to_contain_text("ucs2", timeout=20_000, ignore_case=True)
    expect(page.locator("#preview")).to_contain_text("Ahoj Name")
    _shot(page, "wizard-templates")
    page.click("#to-schedule")
    page.fill("input[name=holdout_czech_vips]", "10")
    _shot(page, "wizard-schedule")
    page.click("#to-review")
    expect(page).to_have_url(re.compile(r"/ui/campaigns/autumn/wizard/review"))
    expect(page.locator("#dry-run")).to_contain_text("czech_vips")
    _shot(page, "wizard-dry-run")

    page.goto(f"{base_url}/ui/campaigns/spring/report")
    expect(page.locator("#report-table")).to_be_visible()
    _shot(page, "report")
    page.goto(f"{base_url}/ui/campaigns/spring")
    expect(page.locator("#state")).to_have_text("draft")
    _shot(page, "campaign")


def test_viewer_is_refused_a_send(browser: Browser, base_url: str) -> None:
    page = _page(browser)
    _log_in(page, base_url, "viewer", "/ui/campaigns/spring/wizard/review")
    expect(page.locator("#dry-run")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#send")
    expect(page.locator("#refusal")).to_contain_text("needs the marketer role")
    _shot(page, "viewer-refused")


def test_marketer_pauses_and_resumes_a_seed_automation(browser: Browser, base_url: str) -> None:
    page = _page(browser)
    _log_in(page, base_url, "marketer")
    page.click("nav >> text=Automations")
    expect(page).to_have_url(re.compile(r"/ui/automations$"))
    rows = page.locator("#automations tr[data-automation]")
    expect(rows).to_have_count(len(AUTOMATIONS))
    assert [row.get_attribute("data-automation") for row in rows.all()] == list(AUTOMATIONS)
    win_back = page.locator("tr[data-automation=win_back]")
    expect(win_back.locator("td").nth(1)).to_have_text("enters lifecycle_churn")
    expect(win_back.locator("td").nth(2)).to_have_text("send email")
    expect(win_back.locator(".state")).to_have_text("active")
    _shot(page, "automations")

    win_back.locator("button.toggle").click()
    expect(page).to_have_url(re.compile(r"/ui/automations$"))
    expect(page.locator("tr[data-automation=win_back] .state")).to_have_text("paused")
    expect(page.locator("tr[data-automation=win_back] button.toggle")).to_have_text("Resume")
    expect(page.locator("tr[data-automation=survey_reminder] .state")).to_have_text("active")
    _shot(page, "automations-paused")

    page.click("a:text-is('win_back')")
    expect(page.locator("#state")).to_have_text("paused")
    expect(page.locator("#runs")).to_contain_text("No runs yet.")
    _shot(page, "automation")
    page.click("button.toggle")
    expect(page.locator("#state")).to_have_text("active")


def test_viewer_sees_automations_without_toggles(browser: Browser, base_url: str) -> None:
    page = _page(browser)
    _log_in(page, base_url, "viewer", "/ui/automations")
    expect(page.locator("#automations tr[data-automation]")).to_have_count(len(AUTOMATIONS))
    expect(page.locator("button.toggle")).to_have_count(0)
    page.goto(f"{base_url}/ui/automations/win_back")
    expect(page.locator("#state")).to_be_visible()
    expect(page.locator("button.toggle")).to_have_count(0)
    _shot(page, "viewer-automations")


def test_pages_fit_a_phone(browser: Browser, base_url: str) -> None:
    page = _page(browser, width=375)
    _log_in(page, base_url, "admin")
    for path, name in (
        ("/ui/", "phone-dashboard"),
        ("/ui/segments/new", "phone-builder"),
        ("/ui/campaigns", "phone-campaigns"),
        ("/ui/automations", "phone-automations"),
        ("/ui/admin/audit", "phone-audit"),
    ):
        page.goto(f"{base_url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 380, f"{path} is {width}px wide at phone width"
        _shot(page, name)
