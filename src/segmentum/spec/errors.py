"""Spec errors: every problem found in a definition, each with a stable code and a path.

Readers (``external.py``, ``text.py``) collect *all* problems before raising, so one
``SpecError`` lists everything a user has to fix. Codes are stable and documented in
``docs/segment-language.md``; the compiler's semantic checks use ``SEG1xx``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ISSUE_CODES: dict[str, str] = {
    "SEG001": "unknown node kind",
    "SEG002": "unknown key",
    "SEG003": "missing key",
    "SEG004": "wrong value type or shape",
    "SEG005": "missing or several comparison operators",
    "SEG006": "bad duration or window",
    "SEG007": "empty all/any",
    "SEG008": "value not allowed",
    "SEG009": "syntax error",
    "SEG010": "nested too deeply",
}
"""Every code a spec reader can report, with its one-line meaning."""


def json_pointer(path: str, key: str | int) -> str:
    """``path`` extended by one key, escaped as RFC 6901 requires."""
    text = str(key).replace("~", "~0").replace("/", "~1")
    return f"{path}/{text}"


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One problem: a code from ``ISSUE_CODES``, a JSON pointer into the external form
    (``""`` is the whole document) and a message for a person."""

    code: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.code}{where}: {self.message}"


class SpecError(ValueError):
    """A definition that cannot be read; ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[SpecIssue]) -> None:
        self.issues: tuple[SpecIssue, ...] = tuple(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "; ".join(str(issue) for issue in self.issues)

    def codes(self) -> list[tuple[str, str]]:
        """``(code, path)`` of every issue, in the order found (handy in tests)."""
        return [(issue.code, issue.path) for issue in self.issues]

    def under(self, prefix: str) -> SpecError:
        """The same issues with their paths moved under ``prefix`` (e.g. ``/where``)."""
        return SpecError(
            SpecIssue(issue.code, prefix + issue.path, issue.message) for issue in self.issues
        )
