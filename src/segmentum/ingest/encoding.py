"""Guessing the encoding of a file that is not valid UTF-8 (names it in the error message).

A small heuristic is enough for the encodings customer exports actually come in: decode a
sample with each candidate and prefer the one whose words do not mix scripts (Cyrillic text
read as cp1250 yields words of accented Latin letters only; Czech text read as cp1251 yields
words that mix Latin and Cyrillic).
"""

from __future__ import annotations

import re
from pathlib import Path

_CANDIDATES = ("cp1251", "cp1250", "cp1252", "latin-1")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_CENTRAL = set("ěščřžťďňůĚŠČŘŽŤĎŇŮőűŐŰłŁąęĄĘśźżŚŹŻćńĆŃľĺŕĽĹŔ")
_WESTERN = set("éèêëàâäçîïôöùûüÿñßæøåÉÈÀÇÑÆØÅ")


def _score(text: str, encoding: str) -> float:
    words = [word for word in _WORD.findall(text) if not word.isascii()]
    if not words:
        return 0.0
    score = 0.0
    for word in words:
        cyrillic = sum("\u0400" <= ch <= "\u04ff" for ch in word)
        latin = sum(ch.isascii() for ch in word)
        other = len(word) - cyrillic - latin
        if cyrillic and (latin or other):
            score -= 2  # mixed scripts inside a word: wrong decoding
        elif cyrillic:
            score += 1 + (word[1:] == word[1:].lower())
        elif latin:
            score += 1 + min(latin / max(other, 1), 3) / 3
            if encoding == "cp1250":
                score += 0.5 * sum(ch in _CENTRAL for ch in word)
            elif encoding in ("cp1252", "latin-1"):
                score += 0.5 * sum(ch in _WESTERN for ch in word)
        else:
            score -= 1  # a word made only of accented letters: unlikely
    return score / len(words)


def guess_encoding(path: Path, sample_size: int = 1 << 20) -> str:
    """The most plausible single-byte encoding of a file that failed to decode as UTF-8."""
    with path.open("rb") as handle:
        sample = handle.read(sample_size)
    best, best_score = "latin-1", float("-inf")
    for encoding in _CANDIDATES:
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = _score(text, encoding)
        if score > best_score:
            best, best_score = encoding, score
    return best


def is_utf8(name: str) -> bool:
    return name.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig", "utf8-sig")
