"""Clock advance: time-based changes happen at the exact local midnight, through timers only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import realtime
from segmentum.service.membership import refresh_segments
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.workspace import Workspace
from segmentum.store import membership as membership_store
from tests.automations.shop import add_customer, add_event, add_order

PRAGUE = ZoneInfo("Europe/Prague")
DAY0 = date(2026, 3, 20)  # CET; day 61 is 2026-05-20, in CEST (UTC+2)


def local(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=PRAGUE)


@pytest.fixture
def shop(workspace: Workspace) -> Workspace:
    data = workspace.settings.model_dump(mode="json")
    data["timezone"] = "Europe/Prague"
    workspace.update_settings(WorkspaceSettings.model_validate(data))
    add_customer(workspace, "ada", local(DAY0) - timedelta(days=300))
    add_order(workspace, "o1", "ada", local(DAY0, 18))
    for name, where in (
        ("active", {"lifecycle": {"eq": "active"}}),
        ("pre_churn", {"lifecycle": {"eq": "pre_churn"}}),
        ("cart_24h", {"sequence": {"first": {"of": "cart_updated", "ago": ["24h", "7d"]},
                                   "then": {"of": "orders"}, "within": "24h"}}),
    ):  # fmt: skip
        create_segment(workspace, name, DefinitionSource(data={"where": where}))
    refresh_segments(workspace, at=local(DAY0 + timedelta(days=30), 12))
    return workspace


def _members(ws: Workspace, segment: str) -> list[str]:
    return membership_store.current_members(ws.store, segment)


def test_active_becomes_pre_churn_at_local_midnight_of_day_61(shop: Workspace) -> None:
    assert _members(shop, "active") == ["ada"]
    day61 = DAY0 + timedelta(days=61)
    timer = shop.store.scalar("SELECT next_flip_at FROM realtime_timers WHERE customer_id = 'ada'")
    midnight_utc = local(day61).astimezone(UTC).replace(tzinfo=None)
    assert timer == midnight_utc == datetime(2026, 5, 19, 22, 0)

    just_before = local(day61) - timedelta(microseconds=1)
    assert realtime.run_timers(shop, just_before) == 0
    assert _members(shop, "active") == ["ada"]

    assert realtime.run_timers(shop, local(day61, 0, 0, 1)) == 1
    assert _members(shop, "active") == []
    assert _members(shop, "pre_churn") == ["ada"]
    log = shop.store.query(
        "SELECT segment, change, effective_at FROM membership_log WHERE customer_id = 'ada' "
        "AND effective_at > ? ORDER BY segment",
        (datetime(2026, 5, 1),),
    )
    assert log == [
        {"segment": "active", "change": "exited", "effective_at": midnight_utc},
        {"segment": "pre_churn", "change": "entered", "effective_at": midnight_utc},
    ]
    # history answers "who was active" on either side of that midnight
    assert membership_store.members_at(
        shop.store, "active", midnight_utc - timedelta(seconds=1)
    ) == ["ada"]
    assert membership_store.members_at(shop.store, "active", midnight_utc) == []
    # the next timer is churn: day 121 at 00:00 local (CEST)
    following = shop.store.scalar(
        "SELECT next_flip_at FROM realtime_timers WHERE customer_id = 'ada'"
    )
    assert following == local(DAY0 + timedelta(days=121)).astimezone(UTC).replace(tzinfo=None)


def test_hour_window_enters_at_the_exact_instant(shop: Workspace) -> None:
    at = local(DAY0 + timedelta(days=31), 9, 30)
    add_event(shop, "e1", "ada", "cart_updated", at)
    realtime.touch(shop, ["ada"], {"events"}, now=at + timedelta(minutes=1),
                   event_types={"cart_updated"}, effective_at=at)  # fmt: skip
    assert _members(shop, "cart_24h") == []
    due = at + timedelta(hours=24)
    timer = shop.store.scalar("SELECT next_flip_at FROM realtime_timers WHERE customer_id = 'ada'")
    assert timer == due.astimezone(UTC).replace(tzinfo=None)
    realtime.run_timers(shop, due)
    assert _members(shop, "cart_24h") == ["ada"]
