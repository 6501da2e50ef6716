"""Money and dates in the customer's language, via Babel (CLDR data).

Babel writes what CLDR says, including its spaces: Czech money is ``1 234,50 Kč`` with
U+00A0 (no-break space) both as the group separator and before the symbol; Russian dates end
in ``г.`` after U+202F (narrow no-break space). Tests compare those exact characters.

A language that Babel does not know (or none) falls back to the default locale, ``en``:
formatting must not stop a send.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import UnknownCurrencyError, format_currency, format_decimal

DEFAULT_LOCALE = "en"
#: Babel's named date formats; anything else is read as a CLDR pattern (e.g. "d. M.").
DATE_STYLES = ("short", "medium", "long", "full")


class FormattingError(ValueError):
    """A value that cannot be formatted (not a number, unknown currency, bad date)."""


@lru_cache(maxsize=256)
def locale_for(language: str | None, default: str = DEFAULT_LOCALE) -> Locale:
    """The Babel locale of a BCP 47 tag (``cs``, ``cs-CZ``, ``pt_BR``); `default` if unknown."""
    if language:
        tag = language.strip().replace("-", "_")
        try:
            return Locale.parse(tag)
        except (UnknownLocaleError, ValueError, TypeError):
            pass
    return Locale.parse(default)


def _decimal(amount: object) -> Decimal:
    if isinstance(amount, bool):
        raise FormattingError(f"not an amount: {amount!r}")
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, int | float | str):
        try:
            value = Decimal(str(amount).strip())
        except InvalidOperation as error:
            raise FormattingError(f"not an amount: {amount!r}") from error
        if not value.is_finite():
            raise FormattingError(f"not an amount: {amount!r}")
        return value
    raise FormattingError(f"not an amount: {amount!r}")


def format_money(amount: object, currency: str, language: str | None) -> str:
    """``format_money(1234.5, "CZK", "cs") == "1\\u00a0234,50\\u00a0Kč"``."""
    code = str(currency).strip().upper()
    try:
        return str(format_currency(_decimal(amount), code, locale=locale_for(language)))
    except UnknownCurrencyError as error:
        raise FormattingError(f"unknown currency {currency!r}") from error


def format_number(value: object, language: str | None, digits: int | None = None) -> str:
    number = _decimal(value)
    if digits is not None:
        number = round(number, digits)
        pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
        return str(format_decimal(number, format=pattern, locale=locale_for(language)))
    return str(format_decimal(number, locale=locale_for(language)))


def _zone(timezone: str | None) -> tzinfo | None:
    if not timezone:
        return None
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _temporal(value: object) -> date | datetime:
    if isinstance(value, date):  # datetime is a date too
        return value
    if isinstance(value, str):
        try:
            return (
                datetime.fromisoformat(value)
                if "T" in value or " " in value.strip()
                else (date.fromisoformat(value))
            )
        except ValueError as error:
            raise FormattingError(f"not a date: {value!r}") from error
    raise FormattingError(f"not a date: {value!r}")


def _localize(value: datetime, timezone: str | None) -> datetime:
    """An aware instant moves to the customer's zone; a naive one is UTC (the catalog's rule)."""
    zone = _zone(timezone)
    if zone is None:
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(zone)


def format_day(
    value: object, language: str | None, style: str = "medium", timezone: str | None = None
) -> str:
    """A date (or the local date of an instant) in the customer's language.

    ``format_day(date(2026, 3, 5), "cs") == "5. 3. 2026"``; ``"long"`` gives ``5. března 2026``.
    """
    moment = _temporal(value)
    if isinstance(moment, datetime):
        moment = _localize(moment, timezone).date()
    return str(format_date(moment, format=style, locale=locale_for(language)))


def format_moment(
    value: object, language: str | None, style: str = "medium", timezone: str | None = None
) -> str:
    """Date and time of an instant in the customer's zone and language."""
    moment = _temporal(value)
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return str(
        format_datetime(_localize(moment, timezone), format=style, locale=locale_for(language))
    )
