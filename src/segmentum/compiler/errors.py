"""What the compiler reports: semantic issues (codes SEG1xx) and unsupported nodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Every issue code the validator emits; docs/compiler.md documents each one.
ISSUE_CODES: dict[str, str] = {
    "SEG100": "invalid segment name",
    "SEG101": "unknown field or attribute",
    "SEG102": "operator not valid for the field type",
    "SEG103": "value does not fit the field type",
    "SEG104": "unknown source or event type",
    "SEG105": "unknown segment reference",
    "SEG106": "segment reference cycle",
    "SEG107": "unknown metric",
    "SEG108": "unknown lifecycle stage, RFM group or preset",
    "SEG109": "aggregate function needs a field or does not fit the field",
    "SEG110": "bad match fields in a sequence",
    "SEG111": "window not allowed here",
    "SEG112": "unknown manual list",
    "SEG113": "empty all/any",
    "SEG114": "predictive metric used before predictions were computed",
}


@dataclass(frozen=True)
class SemanticIssue:
    """One problem of a definition: a stable code, a JSON pointer into the node tree and the
    segment it belongs to (None when the problem is not tied to one segment)."""

    code: str
    path: str
    message: str
    segment: str | None = None

    def __str__(self) -> str:
        where = f"{self.segment}:{self.path}" if self.segment else self.path
        return f"{self.code} at {where}: {self.message}"


class InvalidSegmentsError(ValueError):
    """Compilation refused because validation found issues (fail closed)."""

    def __init__(self, issues: Sequence[SemanticIssue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(issue) for issue in self.issues))


class UnsupportedError(Exception):
    """A node the target engine cannot run."""

    def __init__(self, engine: str, node: object) -> None:
        self.engine = engine
        self.node = node
        super().__init__(f"the {engine} engine cannot run {type(node).__name__}")
