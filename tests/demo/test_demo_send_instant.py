"""The demo campaign's send instant leaves its simulated responses at least 12 hours before
the history ends, whatever the time of day ``segmentum demo`` runs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from segmentum.demo.shop import DEMO_TIMEZONE
from segmentum.service.clock import end_of_day
from segmentum.service.demo import demo_send_instant


@pytest.mark.parametrize(
    ("as_of", "sent_at"),
    [
        # --end 2026-05-04: the end of that day, so 10:00 (CEST) that day, as before
        (end_of_day(date(2026, 5, 4), DEMO_TIMEZONE), datetime(2026, 5, 4, 8, 0, tzinfo=UTC)),
        # no --end, run at 02:00 Prague: today's 10:00 is still ahead, yesterday's it is
        (datetime(2026, 11, 25, 1, 0, tzinfo=UTC), datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        # run at 10:05 Prague: today's 10:00 would leave 5 minutes of responses
        (datetime(2026, 11, 25, 9, 5, tzinfo=UTC), datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        # run at 22:00 Prague: today's 10:00 is exactly 12 hours before
        (datetime(2026, 11, 25, 21, 0, tzinfo=UTC), datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),
        # one minute earlier it is not
        (datetime(2026, 11, 25, 20, 59, tzinfo=UTC), datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        # summer time: 14:00 CEST on 1 July -> 10:00 CEST on 30 June
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 6, 30, 8, 0, tzinfo=UTC)),
    ],
)
def test_demo_send_instant(as_of: datetime, sent_at: datetime) -> None:
    assert demo_send_instant(as_of) == sent_at
