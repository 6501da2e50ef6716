from __future__ import annotations

import pytest

from segmentum.compiler.rewrite import (
    RULES,
    dedupe_children,
    flatten,
    inline_references,
    remove_double_negation,
    rewrite,
    unwrap_single,
)
from segmentum.spec.nodes import All, AnyOf, HasTag, Node, Not, SegmentRef

a, b, c = (HasTag(tag=t) for t in "abc")


@pytest.mark.parametrize(
    ("rule", "given", "expected"),
    [
        (remove_double_negation, Not(item=Not(item=a)), a),
        (remove_double_negation, Not(item=Not(item=Not(item=a))), Not(item=a)),
        (remove_double_negation, All(items=(Not(item=Not(item=a)), b)), All(items=(a, b))),
        (remove_double_negation, Not(item=a), Not(item=a)),
        (flatten, All(items=(a, All(items=(b, c)))), All(items=(a, b, c))),
        (flatten, AnyOf(items=(AnyOf(items=(a, AnyOf(items=(b,)))), c)), AnyOf(items=(a, b, c))),
        (flatten, All(items=(a, AnyOf(items=(b, c)))), All(items=(a, AnyOf(items=(b, c))))),
        (dedupe_children, All(items=(a, b, a)), All(items=(a, b))),
        (dedupe_children, AnyOf(items=(a, a)), AnyOf(items=(a,))),
        (dedupe_children, All(items=(Not(item=a), Not(item=a), a)), All(items=(Not(item=a), a))),
        (unwrap_single, All(items=(a,)), a),
        (unwrap_single, AnyOf(items=(All(items=(b,)),)), b),
        (unwrap_single, All(items=()), All(items=())),
    ],
)
def test_rule(rule: object, given: Node, expected: Node) -> None:
    assert rule(given) == expected  # type: ignore[operator]
    assert rule(expected) == expected  # type: ignore[operator]  # idempotent


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (All(items=(AnyOf(items=(All(items=(a, b)),)), c)), All(items=(a, b, c))),
        (Not(item=Not(item=All(items=(a, a)))), a),
        (AnyOf(items=(Not(item=Not(item=b)), b, All(items=(c,)))), AnyOf(items=(b, c))),
    ],
)
def test_pipeline_reaches_fixpoint(given: Node, expected: Node) -> None:
    assert rewrite(given) == expected
    assert rewrite(expected) == expected
    for rule in RULES:
        assert rule(expected) == expected


def test_inline_references() -> None:
    definitions: dict[str, Node] = {
        "x": All(items=(a, SegmentRef(segment="y"))),
        "y": Not(item=b),
    }
    assert inline_references(definitions["x"], definitions) == All(items=(a, Not(item=b)))
    with pytest.raises(ValueError, match="cycle"):
        inline_references(SegmentRef(segment="z"), {"z": SegmentRef(segment="z")})
