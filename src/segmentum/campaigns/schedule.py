"""Local wall-clock time: quiet hours, DST gaps and folds, scheduled and recurring sends.

Rules (documented in docs/campaigns.md):
- A local time in a DST gap (it never happens on the wall clock) moves to the first valid
  minute after the gap; an ambiguous local time (it happens twice) means its first occurrence
  (``fold=0``).
- Quiet hours are a half-open window of allowed local time ``[start, end)``; a window whose
  start is after its end wraps midnight. A message due outside it is deferred to the next
  allowed minute (the next ``start``), never dropped.

These functions work on one value; callers apply them to the distinct (instant, zone) pairs
of a batch, not to every message.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE = timedelta(minutes=1)


@lru_cache(maxsize=1024)
def zone(name: str | None, fallback: str) -> ZoneInfo:
    """The customer's zone, or the workspace's when missing or unknown."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(fallback)


def _exists(local: datetime, tz: ZoneInfo) -> bool:
    aware = local.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return back == local.replace(tzinfo=None)


def localize(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive local wall-clock time as an aware UTC instant (gap → first valid minute after it,
    ambiguous → first occurrence)."""
    candidate = local.replace(tzinfo=None)
    for _ in range(24 * 60):
        if _exists(candidate, tz):
            return candidate.replace(tzinfo=tz, fold=0).astimezone(UTC)
        candidate += MINUTE
    raise ValueError(f"no valid local time after {local} in {tz.key}")  # pragma: no cover


def _parse(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def allowed(local_time: time, start: time, end: time) -> bool:
    if start == end:
        return True
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end


def next_allowed(instant: datetime, tz: ZoneInfo, start_text: str, end_text: str) -> datetime:
    """``instant`` (aware) if its local time is inside [start, end), else the next start."""
    start, end = _parse(start_text), _parse(end_text)
    local = instant.astimezone(tz)
    if allowed(local.time().replace(tzinfo=None), start, end):
        return instant
    day = local.date()
    for offset in range(3):
        candidate = localize(datetime.combine(day + timedelta(days=offset), start), tz)
        if candidate > instant:
            # a DST gap may push the start past the window's end; still the first allowed minute
            return candidate
    raise ValueError("no allowed time within three days")  # pragma: no cover


def local_send_time(local: datetime, tz: ZoneInfo) -> datetime:
    """A campaign's local wall-clock send time in one recipient's zone, as aware UTC."""
    return localize(local, tz)


WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def recurring_days(
    after: date, every: str, weekday: str | None, start: date | None, until: date | None
) -> date | None:
    """The first scheduled calendar day on or after ``after`` (None once ``until`` passed)."""
    day = max(after, start) if start else after
    if every == "weekly" and weekday is not None:
        day += timedelta(days=(WEEKDAY_INDEX[weekday] - day.weekday()) % 7)
    if until is not None and day > until:
        return None
    return day


def earliest_instant(day: date, at: time) -> datetime:
    """The first instant at which ``at`` on ``day`` occurs in any zone (UTC+14)."""
    return datetime.combine(day, at, tzinfo=UTC) - timedelta(hours=14)


def latest_instant(day: date, at: time) -> datetime:
    """The last instant at which ``at`` on ``day`` occurs in any zone (UTC-12)."""
    return datetime.combine(day, at, tzinfo=UTC) + timedelta(hours=12)
