"""Tracked links: every http(s) link of a rendered message becomes ``<base>/r/<code>``.

The code is 8 base62 characters (62**8 ≈ 2.2·10**14) derived from sha256 of the message key
and the destination, so re-rendering the same message gives the same code (a retried plan
never mints a second link) and nothing in the code reveals the customer. The destination gets
UTM parameters (``utm_source``, ``utm_medium`` = channel, ``utm_campaign``, ``utm_content`` =
segment/variant); parameters the template already sets are kept as written.

Pure functions, no I/O: the planner collects the links, the service stores them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CODE_LENGTH = 8
CODE_PATTERN = re.compile(r"^[0-9A-Za-z]{8}$")
#: A link in text: scheme, then anything up to whitespace, a quote or an angle bracket;
#: trailing sentence punctuation is not part of it.
URL_PATTERN = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"
#: Links that must reach their target untouched (unsubscribe pages, the tracker itself).
_UNTRACKED = re.compile(r"/(unsubscribe|r/[0-9A-Za-z]{8})(\b|/|\?|$)")
UTM_SOURCE = "segmentum"


def base62(number: int, length: int = CODE_LENGTH) -> str:
    """``number`` in base62, left-padded with ``0`` to ``length`` characters (taken mod 62**n)."""
    digits = []
    value = number % (62**length)
    for _ in range(length):
        value, digit = divmod(value, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def link_code(message_key: str, destination: str) -> str:
    """The 8-character code of one link of one message."""
    digest = hashlib.sha256(f"{message_key}\x1f{destination}".encode()).digest()
    return base62(int.from_bytes(digest[:8], "big"))


def with_utm(url: str, utm: Mapping[str, str]) -> str:
    """``url`` with the UTM parameters added; a parameter already in the URL is kept."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    query.extend((key, value) for key, value in utm.items() if key not in present and value)
    return urlunsplit(parts._replace(query=urlencode(query, safe="/:")))


def utm_parameters(campaign_id: str, channel: str, segment: str, variant: str) -> dict[str, str]:
    return {
        "utm_source": UTM_SOURCE,
        "utm_medium": channel,
        "utm_campaign": campaign_id,
        "utm_content": f"{segment}/{variant}",
    }


@dataclass(frozen=True)
class TrackedLink:
    code: str
    #: The link as written in the template (after rendering).
    original: str
    #: Where the redirect goes: the original with UTM parameters.
    destination: str


def short_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/r/{code}"


def _split_trailing(url: str) -> tuple[str, str]:
    end = len(url)
    while end > 0 and url[end - 1] in _TRAILING:
        end -= 1
    return url[:end], url[end:]


def rewrite_text(
    text: str, base_url: str, code_for: Callable[[str], str]
) -> tuple[str, list[tuple[str, str]]]:
    """Replace every trackable link of ``text``; returns the text and (code, original) pairs."""
    found: list[tuple[str, str]] = []
    base = base_url.rstrip("/")

    def replace(match: re.Match[str]) -> str:
        url, tail = _split_trailing(match.group(0))
        if not url or url.startswith(base + "/") or _UNTRACKED.search(urlsplit(url).path):
            return match.group(0)
        code = code_for(url)
        found.append((code, url))
        return short_url(base, code) + tail

    return URL_PATTERN.sub(replace, text), found


@dataclass(frozen=True)
class LinkTracking:
    """What the renderer needs to rewrite links: the short-link base and the UTM context."""

    base_url: str
    campaign_id: str
    channel: str

    def rewrite(
        self, message_key: str, segment: str, variant: str, texts: Mapping[str, str | None]
    ) -> tuple[dict[str, str | None], list[TrackedLink]]:
        """Rewrite each text (body, html, ...) of one message; the same link in several parts
        gets one code."""
        utm = utm_parameters(self.campaign_id, self.channel, segment, variant)
        links: dict[str, TrackedLink] = {}

        def code_for(url: str) -> str:
            destination = with_utm(url, utm)
            code = link_code(message_key, destination)
            links.setdefault(code, TrackedLink(code, url, destination))
            return code

        out: dict[str, str | None] = {}
        for name, text in texts.items():
            out[name] = None if text is None else rewrite_text(text, self.base_url, code_for)[0]
        return out, list(links.values())
