"""Windows as concrete bounds, computed in Python at compile time.

``D`` (the as-of local date) and every window boundary (D − N days, D − N calendar months
clamped to the month's end, as_of − N hours) are computed here with ``zoneinfo``; the engine
only compares ``local_date`` and the record's UTC instant with literals. Normalising a window
to :class:`Bounds` also deduplicates features: ``within 30d`` and ``ago [0d, 30d]`` become one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from segmentum.spec.nodes import (
    Ago,
    Dates,
    Duration,
    EachMonth,
    Ever,
    SinceSignup,
    Window,
    Within,
)


@dataclass(frozen=True)
class Clock:
    """The evaluation instant and its local date; both fixed for one compilation."""

    as_of: datetime  # aware
    timezone: str

    @property
    def as_of_utc(self) -> datetime:
        """The instant as naive UTC, the form activity instants are stored in."""
        return self.as_of.astimezone(UTC).replace(tzinfo=None)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def today(self) -> date:
        """D: the local date of as_of in the workspace timezone."""
        return self.as_of.astimezone(self.zone).date()

    def day_start_utc(self, day: date) -> datetime:
        """The first instant of a local date, as naive UTC."""
        local = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return local.astimezone(UTC).replace(tzinfo=None)

    def hours_ago(self, hours: int) -> datetime:
        return self.as_of_utc - timedelta(hours=hours)


def minus_months(day: date, months: int) -> date:
    """``day`` − N calendar months, the day clamped to the target month's end."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def month_span(day: date, back: int) -> tuple[date, date]:
    """First and last date of the calendar month ``back`` months before ``day``'s month."""
    first = minus_months(day.replace(day=1), back)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first, last


@dataclass(frozen=True)
class Bounds:
    """Where records must lie, besides ``instant <= as_of`` (always applied).

    Dates bound ``local_date`` (inclusive), instants bound the UTC instant (inclusive);
    ``since_signup`` adds ``local_date >= signup_date`` (no signup date: every record)."""

    date_lo: date | None = None
    date_hi: date | None = None
    ts_lo: datetime | None = None
    ts_hi: datetime | None = None
    since_signup: bool = False


EVER = Bounds()


def _days(duration: Duration) -> int:
    return duration.amount * 7 if duration.unit == "w" else duration.amount


def _date_back(clock: Clock, duration: Duration) -> date:
    if duration.unit == "m":
        return minus_months(clock.today, duration.amount)
    return clock.today - timedelta(days=_days(duration))


def bounds(window: Window, clock: Clock) -> Bounds:
    """Bounds of a window that is not ``EachMonth`` (use :func:`each_month_bounds`)."""
    if isinstance(window, Ever):
        return EVER
    if isinstance(window, SinceSignup):
        return Bounds(since_signup=True)
    if isinstance(window, Dates):
        return Bounds(date_lo=window.start, date_hi=window.end)
    if isinstance(window, Within):
        if window.duration.unit == "h":
            return Bounds(ts_lo=clock.hours_ago(window.duration.amount))
        return Bounds(date_lo=_date_back(clock, window.duration), date_hi=clock.today)
    if isinstance(window, Ago):
        date_lo = date_hi = None
        ts_lo = ts_hi = None
        if window.newest.unit == "h":
            ts_hi = clock.hours_ago(window.newest.amount)
        else:
            date_hi = _date_back(clock, window.newest)
        if window.oldest is None:
            pass  # "N or more ago": no oldest bound
        elif window.oldest.unit == "h":
            ts_lo = clock.hours_ago(window.oldest.amount)
        else:
            date_lo = _date_back(clock, window.oldest)
        return Bounds(date_lo=date_lo, date_hi=date_hi, ts_lo=ts_lo, ts_hi=ts_hi)
    raise TypeError(f"{type(window).__name__} has no single set of bounds")


def each_month_bounds(window: EachMonth, clock: Clock) -> tuple[Bounds, ...]:
    """One Bounds per complete calendar month before D's month, oldest first."""
    spans = (month_span(clock.today, back) for back in range(window.months, 0, -1))
    return tuple(Bounds(date_lo=first, date_hi=last) for first, last in spans)
