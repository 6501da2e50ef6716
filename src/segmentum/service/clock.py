"""The one place that turns "now" or ``--as-of DATE`` into an evaluation instant.

Below the service layer nothing reads the clock: the instant is passed down.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


def now_utc() -> datetime:
    return datetime.now(UTC)


def end_of_day(day: date, timezone: str) -> datetime:
    """The last instant of ``day`` in ``timezone``, as an aware UTC datetime."""
    local = datetime.combine(day, time.max, tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


def resolve_as_of(as_of: date | None, timezone: str) -> datetime:
    """``--as-of DATE`` means the end of that day in the workspace timezone; none means now."""
    return now_utc() if as_of is None else end_of_day(as_of, timezone)
