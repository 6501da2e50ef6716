"""Per-value normalisation no SQL engine can do, run once per DISTINCT value over Arrow.

Each function takes the distinct raw values and returns a two-column Arrow table
(``raw``, ``value``) that the validation query joins; ``value`` is NULL when the raw value
is invalid.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from zoneinfo import available_timezones

import phonenumbers
import pyarrow as pa
import pycountry

#: A practical syntax check (no DNS): dotted domain of LDH labels, RFC 5322 "atext" locals.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)

_COUNTRY_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "america": "US",
    "russia": "RU",
    "czech republic": "CZ",
    "česko": "CZ",
    "česká republika": "CZ",
    "slovensko": "SK",
    "deutschland": "DE",
    "россия": "RU",
    # native names of the region's countries (pycountry has only the English ones)
    "polska": "PL",
    "rzeczpospolita polska": "PL",
    "slovenská republika": "SK",
    "magyarország": "HU",
    "україна": "UA",
    "österreich": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "slovenija": "SI",
    "hrvatska": "HR",
    "srbija": "RS",
    "србија": "RS",
    "românia": "RO",
    "българия": "BG",
    "беларусь": "BY",
    "lietuva": "LT",
    "latvija": "LV",
    "eesti": "EE",
    "italia": "IT",
    "españa": "ES",
    "nederland": "NL",
    "sverige": "SE",
    "danmark": "DK",
    "norge": "NO",
    "suomi": "FI",
    "ελλάδα": "GR",
    "казахстан": "KZ",
    "қазақстан": "KZ",
    "south korea": "KR",
    "north korea": "KP",
    "iran": "IR",
    "syria": "SY",
    "vietnam": "VN",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "laos": "LA",
    "taiwan": "TW",
}


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _strip_accents(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in plain if not unicodedata.combining(ch))


@cache
def _country_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for country in pycountry.countries:
        code = str(country.alpha_2)
        for attribute in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                lookup[_fold(str(value))] = code
                lookup[_fold(_strip_accents(str(value)))] = code
    for alias, code in _COUNTRY_ALIASES.items():
        lookup[alias] = code
        lookup.setdefault(_strip_accents(alias), code)  # "Magyarorszag", "Osterreich"
    return lookup


def country_codes(values: pa.Array) -> pa.Table:
    """Country names, alpha-2 and alpha-3 codes as ISO 3166-1 alpha-2."""
    lookup = _country_lookup()
    raw = values.to_pylist()
    codes = [lookup.get(_fold(v)) for v in raw]
    # typed explicitly: a batch where no value resolves is all NULL, which Arrow would
    # otherwise type as `null` (DuckDB: INTEGER) and the length check would not bind
    return pa.table({"raw": pa.array(raw, pa.string()), "value": pa.array(codes, pa.string())})


def phone_numbers(values: pa.Array, default_region: str | None) -> pa.Table:
    """Phone numbers as E.164 when valid (national formats need ``default_region``), and
    ``extension``: whether the value names an extension (``ext. 12``, ``x7``, ``#7``). E.164
    has no extension and an SMS cannot reach one: the number without it is a switchboard or
    someone else's line, so the validation rejects such a value (``phone_extension``) instead
    of storing it shortened. Nothing here logs or raises with a value in it."""
    region = default_region.upper() if default_region else None
    normalised: list[str | None] = []
    extensions: list[bool] = []
    raw = values.to_pylist()
    for value in raw:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            normalised.append(None)
            extensions.append(False)
            continue
        extensions.append(bool(number.extension))
        if phonenumbers.is_valid_number(number):
            normalised.append(
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            )
        else:
            normalised.append(None)
    return pa.table(
        {
            "raw": pa.array(raw, pa.string()),
            "value": pa.array(normalised, pa.string()),
            "extension": pa.array(extensions, pa.bool_()),
        }
    )


def is_known_region(region: str) -> bool:
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


@cache
def time_zones() -> pa.Table:
    """Every IANA zone name this Python knows."""
    return pa.table({"zone": sorted(available_timezones())})
