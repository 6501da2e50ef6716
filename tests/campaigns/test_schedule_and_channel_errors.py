"""A local-time schedule that has passed everywhere is refused; a channel that cannot be built
(a secret's variable not set) is one error naming the channel, before anything is sent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import campaigns as service
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    load_subscriptions,
    outbox_settings,
    sms_campaign,
    tag_segments,
)

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    outbox_settings(workspace, str(tmp_path / "outbox"))
    load_customers(workspace, [customer(1, ["vip"])])
    load_subscriptions(workspace, [("C0001", "sms", "opted_in")])
    tag_segments(workspace, "vip", "lapsed", "complained")
    return workspace


@pytest.mark.parametrize(
    ("at", "outcome"),
    [
        ("2020-01-01T10:00", "refused"),
        # 10:00 on 3 May has passed in every zone by 10:00 UTC on 4 May (UTC-12: 22:00 UTC)
        ("2026-05-03T10:00", "refused"),
        # 20:00 on 3 May is still ahead in UTC-12 (08:00 UTC on 4 May has passed: refused)
        ("2026-05-03T20:00", "refused"),
        ("2026-05-03T23:00", "scheduled"),  # 11:00 UTC on 4 May in UTC-12
        ("2026-05-05T09:00", "scheduled"),
    ],
)
def test_a_local_time_that_passed_everywhere_is_refused(
    shop: Workspace, at: str, outcome: str
) -> None:
    service.create_campaign(
        shop, service.parse_campaign(sms_campaign(schedule={"type": "local_time", "at": at}))
    )
    if outcome == "refused":
        with pytest.raises(ServiceError) as refused:
            service.send(shop, "spring", now=NOW)
        assert str(refused.value) == (
            f"the schedule has no future occurrence: {at.replace('T', ' ')} local time has "
            "passed in every time zone"
        )
        assert service.status(shop, "spring")["state"] == "draft"
    else:
        assert service.send(shop, "spring", now=NOW)["state"] == "scheduled"


def test_a_channel_missing_its_secret_is_one_error_naming_it(
    shop: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEGMENTUM_TEST_UNSET_SECRET", raising=False)
    data = shop.settings.model_dump(mode="json")
    data["channels"]["email"] = {
        "type": "smtp", "host": "127.0.0.1", "port": 2525, "from": "shop@example.com",
        "unsubscribe_url": "https://shop.example/u",
        "unsubscribe_secret_env": "SEGMENTUM_TEST_UNSET_SECRET",
    }  # fmt: skip
    shop.update_settings(WorkspaceSettings.model_validate(data))
    with pytest.raises(ServiceError) as refused:
        service.run_worker(shop, once=True, clock=lambda: NOW)
    assert str(refused.value) == (
        "channel email: unsubscribe_secret_env: environment variable "
        "'SEGMENTUM_TEST_UNSET_SECRET' is not set"
    )
