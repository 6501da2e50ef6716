"""SMS length: encoding, units and segments per 3GPP TS 23.038 (no national shift tables).

A text whose every character is in the GSM 7-bit default alphabet or its extension table is
sent as GSM-7: one unit per basic character, two per extension character (the escape 0x1B
plus the character). Anything else makes the whole message UCS-2: one unit per UTF-16 code
unit, so an emoji outside the Basic Multilingual Plane costs two.

A message of up to 160 (GSM-7) / 70 (UCS-2) units is one segment. A longer one is sent as
concatenated parts of at most 153 / 67 units (the user data header takes the rest); parts
are packed greedily and never split an escape pair or a surrogate pair, so a part may hold
one unit less than the maximum. The empty string is 0 units and 1 segment (providers bill an
empty message as one).

`to_gsm7` is an explicit, optional replacement of smart punctuation, diacritics and Cyrillic
by their nearest GSM-7 spelling; nothing here applies it implicitly.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

Encoding = Literal["gsm7", "ucs2"]

#: The GSM 7-bit default alphabet (0x1B, the escape to the extension table, left out).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The default extension table: each costs two units (escape + character).
GSM7_EXTENSION = "\f^{}\\[~]|€"

GSM7_SINGLE_SEGMENT = 160
GSM7_PART = 153
UCS2_SINGLE_SEGMENT = 70
UCS2_PART = 67

#: Units per character for GSM-7; built once.
_GSM7_COST: dict[str, int] = dict.fromkeys(GSM7_BASIC, 1) | dict.fromkeys(GSM7_EXTENSION, 2)
#: str.translate table deleting every GSM-7 character: what remains is not GSM-7.
_DELETE_GSM7 = str.maketrans(dict.fromkeys(_GSM7_COST))
_DELETE_EXTENSION = str.maketrans(dict.fromkeys(GSM7_EXTENSION))


@dataclass(frozen=True)
class SmsCount:
    encoding: Encoding
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM-7 default alphabet or its extension table."""
    return not text.translate(_DELETE_GSM7)


def _pack(costs: list[int], part: int) -> int:
    """Parts needed when costs are packed greedily into parts of `part` units, unsplit."""
    segments = 1
    used = 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return segments


def count_sms(text: str) -> SmsCount:
    """Encoding, units and segments of one SMS text (see the module docstring)."""
    if is_gsm7(text):
        extension = len(text) - len(text.translate(_DELETE_EXTENSION))
        units = len(text) + extension
        if units <= GSM7_SINGLE_SEGMENT:
            return SmsCount("gsm7", units, 1)
        if not extension:
            return SmsCount("gsm7", units, -(-units // GSM7_PART))
        return SmsCount("gsm7", units, _pack([_GSM7_COST[char] for char in text], GSM7_PART))
    astral = sum(1 for char in text if ord(char) > 0xFFFF)
    units = len(text) + astral
    if units <= UCS2_SINGLE_SEGMENT:
        return SmsCount("ucs2", units, 1)
    if not astral:
        return SmsCount("ucs2", units, -(-units // UCS2_PART))
    return SmsCount("ucs2", units, _pack([2 if ord(c) > 0xFFFF else 1 for c in text], UCS2_PART))


SMS_COUNT_SCHEMA = pa.schema(
    [("encoding", pa.string()), ("units", pa.int64()), ("segments", pa.int64())]
)


def count_sms_batch(texts: pa.Array | pa.ChunkedArray) -> pa.Table:
    """`count_sms` over a string array: a table (encoding, units, segments); null stays null.

    Each distinct text is counted once (a campaign's messages repeat a lot)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if len(texts) > 64:
        encoded = pc.dictionary_encode(texts)
        return _count_each(encoded.dictionary).take(encoded.indices)
    return _count_each(texts)


def _count_each(texts: pa.Array) -> pa.Table:
    encodings: list[str | None] = []
    units: list[int | None] = []
    segments: list[int | None] = []
    for value in texts.to_pylist():
        if value is None:
            encodings.append(None)
            units.append(None)
            segments.append(None)
            continue
        count = count_sms(value)
        encodings.append(count.encoding)
        units.append(count.units)
        segments.append(count.segments)
    return pa.table(
        [
            pa.array(encodings, pa.string()),
            pa.array(units, pa.int64()),
            pa.array(segments, pa.int64()),
        ],
        schema=SMS_COUNT_SCHEMA,
    )


# --- explicit transliteration -------------------------------------------------------------

_PUNCTUATION = {
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "«": '"',
    "»": '"',
    "″": '"',
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "′": "'",
    "‹": "'",
    "›": "'",
    "`": "'",
    "´": "'",
    "–": "-",
    "—": "-",
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "−": "-",
    "…": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2007": " ",
    "\u2009": " ",
    "\u200b": "",
    "\t": " ",
    "•": "*",
    "·": ".",
    "×": "x",
    "÷": "/",
    "©": "(c)",
    "®": "(R)",
    "™": "TM",
    "°": "o",
    "¢": "c",
}
#: Letters that do not decompose under NFKD.
_LETTERS = {
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ħ": "h",
    "Ħ": "H",
    "ı": "i",
    "œ": "oe",
    "Œ": "OE",
    "þ": "th",
    "Þ": "Th",
    "ð": "d",
    "Ð": "D",
    "ŋ": "n",
    "ĸ": "k",
    "ſ": "s",
}
#: Cyrillic (Russian, Ukrainian, Belarusian, Serbian, Bulgarian) → ASCII, after ISO 9 / BGN.
_CYRILLIC_LOWER = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "і": "i",
    "ї": "yi",
    "є": "ye",
    "ґ": "g",
    "ў": "u",
    "ђ": "dj",
    "ј": "j",
    "љ": "lj",
    "њ": "nj",
    "ћ": "c",
    "џ": "dz",
}


def _cyrillic() -> dict[str, str]:
    table = dict(_CYRILLIC_LOWER)
    for lower, latin in _CYRILLIC_LOWER.items():
        upper = lower.upper()
        if upper != lower:
            table[upper] = latin[:1].upper() + latin[1:]
    return table


_TRANSLITERATION: dict[str, str] = _PUNCTUATION | _LETTERS | _cyrillic()


def _nearest(char: str, replacement: str) -> str:
    if char in _GSM7_COST:
        return char
    mapped = _TRANSLITERATION.get(char)
    if mapped is not None:
        return mapped
    # Diacritics: keep the base letters of the NFKD decomposition (č → c, ą → a, ő → o).
    base = "".join(
        part
        for part in unicodedata.normalize("NFKD", char)
        if not unicodedata.combining(part) and part in _GSM7_COST
    )
    return base or replacement


def to_gsm7(text: str, replacement: str = "?") -> str:
    """Rewrite `text` so it is GSM-7: smart quotes, dashes and … become ASCII, letters with
    diacritics outside GSM-7 lose them (č → c; é and ü stay, they are GSM-7), Cyrillic is
    transliterated (Привет → Privet), and anything else (emoji, CJK) becomes `replacement`.

    Explicit only: the sender chooses it per campaign; counting never applies it.
    """
    if is_gsm7(text):
        return text
    return "".join(_nearest(char, replacement) for char in text)
