"""Unicode NFC for imported text, in SQL, paying only for values that can change.

Text arrives composed ("Plzeň", U+0148) or decomposed ("Plzen" + U+030C, as macOS file names
and some exports write it). Both look alike but compare unequal, so a segment filter typed
``city = "Plzeň"`` would miss decomposed rows, and a length limit would count the combining
marks. Every imported text value is therefore stored in NFC.

DuckDB's ``nfc_normalize`` (utf8proc, vectorised) costs about 0.5 µs per non-ASCII value even
when the value is already NFC (3M Czech names: 1.9 s against 0.35 s for ``trim`` alone;
``pyarrow.compute.utf8_normalize`` measured the same). The Unicode quick check (UAX #15)
says a string whose characters all have NFC_Quick_Check=Yes and canonical combining class 0
is already NFC, so only values containing one of the other characters (combining marks,
conjoining jamo, singletons such as the Ångström sign: about 2,100 code points) go through
``nfc_normalize``; one regular-expression test decides, after a cheaper test that lets
ASCII values through untouched. Measured on a loaded 2-core machine, 3M values, best of 3:
Czech names ``trim`` 0.57 s, with ``nfc_normalize`` on every value 3.1 s, with the checks
0.99 s; ASCII text ``trim`` 0.43 s, with the checks 0.61 s.

The character list comes from Python's ``unicodedata`` (Unicode 14.0 on Python 3.11):
characters added to Unicode later are composed only in a value that also holds a listed one.
``nfc_normalize`` cuts a value at a NUL character (``"a\u0301\x00b"`` -> ``"á"``), so a value
holding NUL is stored as it came rather than lose its tail.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from segmentum.ingest.reading import lit

#: Characters that may change under NFC all lie below this (Unicode 14: the last are the CJK
#: compatibility ideographs of U+2F800..U+2FA1D); a test checks it against the whole range.
SCAN_BELOW = 0x30000


def may_change_under_nfc(code_point: int) -> bool:
    """Whether a string holding this character might not be NFC: it is not NFC by itself
    (NFC_Quick_Check=No), has a non-zero combining class (reordering), or can be the second
    part of a canonical composition (NFC_Quick_Check=Maybe, e.g. U+0301, Hangul U+1161)."""
    char = chr(code_point)
    return bool(unicodedata.combining(char)) or unicodedata.normalize("NFC", char) != char


def _second_parts_of_compositions(code_point: int) -> list[int]:
    """The characters after the first of a canonical decomposition (immediate and full)."""
    char = chr(code_point)
    parts = [ord(part) for part in unicodedata.normalize("NFD", char)[1:]]
    mapping = unicodedata.decomposition(char)
    if mapping and not mapping.startswith("<"):  # canonical, not a compatibility mapping
        parts.extend(int(part, 16) for part in mapping.split()[1:])
    return parts


def characters_that_may_change(below: int = SCAN_BELOW) -> set[int]:
    found: set[int] = set()
    for code_point in range(below):
        if 0xD800 <= code_point <= 0xDFFF:  # surrogates are no characters
            continue
        if may_change_under_nfc(code_point):
            found.add(code_point)
        found.update(_second_parts_of_compositions(code_point))
    return found


@cache
def may_change_class() -> str:
    """A regular-expression character class (RE2 syntax) of `characters_that_may_change`."""
    ranges: list[list[int]] = []
    for code_point in sorted(characters_that_may_change()):
        if ranges and code_point == ranges[-1][1] + 1:
            ranges[-1][1] = code_point
        else:
            ranges.append([code_point, code_point])

    def escaped(code_point: int) -> str:
        return f"\\x{{{code_point:x}}}"

    parts = (
        escaped(first) if first == last else f"{escaped(first)}-{escaped(last)}"
        for first, last in ranges
    )
    return "[" + "".join(parts) + "]"


def nfc_sql(text: str) -> str:
    """SQL for the VARCHAR expression ``text`` in NFC (NULL stays NULL)."""
    # ASCII (as many bytes as characters) first: most cells (ids, codes) skip the regex
    return (
        f"CASE WHEN strlen({text}) = length({text}) THEN {text} "
        f"WHEN regexp_matches({text}, {lit(may_change_class())}) "
        f"AND NOT contains({text}, chr(0)) THEN nfc_normalize({text}) ELSE {text} END"
    )
