"""Rules that keep a workspace usable: a refresh never records the future, a segment another
uses cannot be deleted, a re-save keeps the description, the library never replaces a segment,
and CSV cells are neutralised except E.164 phone numbers."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from segmentum.compiler.errors import InvalidSegmentsError
from segmentum.service.clock import now_utc
from segmentum.service.errors import ServiceError, user_errors
from segmentum.service.library import install_library
from segmentum.service.membership import neutralise_formulas, refresh_segments
from segmentum.service.segments import (
    DefinitionSource,
    create_segment,
    delete_segment,
    get_definition,
)
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import customer, load_customers


@pytest.fixture
def shop(workspace: Workspace) -> Workspace:
    load_customers(workspace, [customer(1, ["vip"]), customer(2, [])])
    create_segment(workspace, "vip", DefinitionSource(text="has_tag(vip)"), "the best")
    return workspace


def test_a_future_as_of_is_refused_and_today_means_now(shop: Workspace) -> None:
    zone = shop.settings.timezone
    today = now_utc().astimezone(ZoneInfo(zone)).date()
    tomorrow = today + timedelta(days=1)
    with pytest.raises(ServiceError) as refused:
        refresh_segments(shop, tomorrow)
    assert str(refused.value) == (
        f"--as-of {tomorrow.isoformat()} is in the future (today is {today.isoformat()} in "
        f"{zone}): a refresh records memberships as they are known now"
    )
    assert shop.store.scalar("SELECT count(*) FROM membership_refreshes") == 0
    before = now_utc().replace(tzinfo=None)
    assert [c["size"] for c in refresh_segments(shop, today)] == [1]
    recorded = shop.store.scalar("SELECT max(as_of) FROM membership_refreshes")
    assert before <= recorded <= now_utc().replace(tzinfo=None)
    # so a plain refresh right after is not refused (it was, until midnight)
    assert [c["size"] for c in refresh_segments(shop)] == [1]


def test_a_segment_another_uses_cannot_be_deleted(shop: Workspace) -> None:
    create_segment(shop, "vip_fans", DefinitionSource(text="in_segment(vip)"))
    create_segment(shop, "not_vip", DefinitionSource(text="not in_segment(vip)"))
    with pytest.raises(ServiceError) as refused:
        delete_segment(shop, "vip")
    assert str(refused.value) == (
        "segment 'vip' is used by 'not_vip', 'vip_fans': change or delete those first"
    )
    assert [c["size"] for c in refresh_segments(shop)] == [1, 1, 1]
    delete_segment(shop, "vip_fans")
    delete_segment(shop, "not_vip")
    delete_segment(shop, "vip")
    with pytest.raises(ServiceError, match="no segment named 'vip'"):
        get_definition(shop, "vip")


def test_an_invalid_stored_definition_is_a_user_error() -> None:
    assert InvalidSegmentsError in user_errors()


@pytest.mark.parametrize(
    ("description", "expected"),
    [(None, "the best"), ("", ""), ("new words", "new words")],
)
def test_a_re_save_keeps_the_description_unless_given(
    shop: Workspace, description: str | None, expected: str
) -> None:
    stored = create_segment(shop, "vip", DefinitionSource(text="has_tag(vip) or has_tag(x)"),
                            description)  # fmt: skip
    assert (stored.version, stored.description) == (2, expected)


def test_the_library_never_replaces_a_segment(workspace: Workspace) -> None:
    first = {row["name"]: row["status"] for row in install_library(workspace)}
    assert first["recent_buyers"] == "installed"
    create_segment(workspace, "recent_buyers",
                   DefinitionSource(text="orders(within 5d).count() >= 1"), "my tweak")  # fmt: skip
    again = {row["name"]: (row["status"], row["detail"]) for row in install_library(workspace)}
    assert again["recent_buyers"] == (
        "exists",
        "version 2, differs from the library's: kept (delete to reinstall)",
    )
    assert again["new_subscribers"] == ("exists", "version 1")
    assert {status for status, _ in again.values()} <= {"exists", "skipped"}
    stored, _ = get_definition(workspace, "recent_buyers")
    assert (stored.version, stored.description) == (2, "my tweak")


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("+420601123456", "+420601123456"),  # E.164: data, kept for SMS tools
        ("+48692987916", "+48692987916"),
        ("+1", "'+1"),  # too short for a phone number
        ("+SUM(1+1)", "'+SUM(1+1)"),
        ("+420 601", "'+420 601"),
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Łódź", "Łódź"),
        (None, None),
    ],
)
def test_formula_cells_are_neutralised_but_phone_numbers_are_not(
    cell: str | None, written: str | None
) -> None:
    table = pa.table({"value": pa.array([cell], pa.string()), "n": [1]})
    assert neutralise_formulas(table).to_pylist() == [{"value": written, "n": 1}]
