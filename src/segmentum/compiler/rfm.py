"""RFM group presets as data: score→name tables, first matching row wins, else ``Others``.

``ranges`` reads R, F and M; ``grid`` and ``four`` read R and F only. The names are verbatim
from the issue; a workspace may replace the table with ``settings.rfm.groups``.
"""

from __future__ import annotations

from collections.abc import Mapping

from segmentum.catalog.settings import RfmRule, WorkspaceSettings

OTHERS = "Others"
DEFAULT_PRESET = "ranges"


def _rule(
    name: str,
    r: tuple[int, int],
    f: tuple[int, int],
    m: tuple[int, int] | None = None,
) -> RfmRule:
    return RfmRule(name=name, r=r, f=f, m=m)


PRESETS: Mapping[str, tuple[RfmRule, ...]] = {
    "ranges": (
        _rule("Champions", (5, 5), (5, 5), (5, 5)),
        _rule("Potential Loyalist", (3, 5), (3, 5), (2, 5)),
        _rule("Loyal Customers", (2, 4), (2, 4), (2, 4)),
        _rule("Promising", (3, 4), (1, 3), (3, 5)),
        _rule("New Customers", (4, 5), (1, 3), (1, 5)),
        _rule("Can't Lose Them", (1, 2), (3, 4), (4, 5)),
        _rule("At Risk", (1, 2), (2, 5), (4, 5)),
        _rule("Need Attention", (1, 3), (3, 5), (3, 5)),
        _rule("About To Sleep", (2, 3), (1, 3), (1, 4)),
        _rule("Lost", (1, 1), (1, 5), (1, 5)),
    ),
    "grid": (
        _rule("Champions", (5, 5), (4, 5)),
        _rule("Loyal Customers", (3, 4), (4, 5)),
        _rule("Potential Loyalists", (4, 5), (2, 3)),
        _rule("New Customers", (5, 5), (1, 1)),
        _rule("Promising", (4, 4), (1, 1)),
        _rule("Need Attention", (3, 3), (3, 3)),
        _rule("About to Sleep", (3, 3), (1, 2)),
        _rule("At Risk", (1, 2), (3, 4)),
        _rule("Can't Lose Them", (1, 2), (5, 5)),
        _rule("Hibernating", (1, 2), (1, 2)),
    ),
    "four": (
        _rule("loyal", (3, 5), (3, 5)),
        _rule("potentially lost", (1, 2), (3, 5)),
        _rule("new", (3, 5), (1, 2)),
        _rule("inactive", (1, 2), (1, 2)),
    ),
}


def group_table(settings: WorkspaceSettings, preset: str | None = None) -> tuple[RfmRule, ...]:
    """The score→name table: an explicit preset, else the workspace's own table, else the
    workspace's preset. Raises KeyError for an unknown preset (validation reports SEG108)."""
    if preset is not None:
        return PRESETS[preset]
    if settings.rfm.groups is not None:
        return settings.rfm.groups
    return PRESETS[settings.rfm.preset]


def group_names(rules: tuple[RfmRule, ...]) -> frozenset[str]:
    return frozenset(rule.name for rule in rules) | {OTHERS}


def classify(rules: tuple[RfmRule, ...], r: int, f: int, m: int) -> str:
    """Python twin of the lowered CASE: the first matching rule's name, else ``Others``."""
    for rule in rules:
        if all(
            bounds is None or bounds[0] <= score <= bounds[1]
            for bounds, score in ((rule.r, r), (rule.f, f), (rule.m, m))
        ):
            return rule.name
    return OTHERS


def score(k: int, i: int, n: int) -> int:
    """Python twin of the lowered score: max(1, ceil(k·i/(n−1))), n = 1 scores 1."""
    if n <= 1:
        return 1
    return max(1, (k * i + n - 2) // (n - 1))
