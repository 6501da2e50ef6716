"""Rewrites: an ordered tuple of pure ``tree -> tree`` rules (sqlglot optimizer style).

Each rule is idempotent and meaning-preserving on its own; :func:`rewrite` runs the tuple to a
fixpoint. Segment references are inlined first by :func:`inline_references`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from segmentum.spec.nodes import All, AnyOf, Node, Not, SegmentRef

Rule = Callable[[Node], Node]


def _bottom_up(node: Node, fix: Callable[[Node], Node]) -> Node:
    if isinstance(node, All):
        return fix(All(items=tuple(_bottom_up(item, fix) for item in node.items)))
    if isinstance(node, AnyOf):
        return fix(AnyOf(items=tuple(_bottom_up(item, fix) for item in node.items)))
    if isinstance(node, Not):
        return fix(Not(item=_bottom_up(node.item, fix)))
    return fix(node)


def remove_double_negation(node: Node) -> Node:
    """``not not x`` → ``x``."""

    def fix(each: Node) -> Node:
        if isinstance(each, Not) and isinstance(each.item, Not):
            return each.item.item
        return each

    return _bottom_up(node, fix)


def flatten(node: Node) -> Node:
    """``all(a, all(b, c))`` → ``all(a, b, c)``; the same for ``any``."""

    def fix(each: Node) -> Node:
        if isinstance(each, All):
            items: list[Node] = []
            for item in each.items:
                items.extend(item.items if isinstance(item, All) else (item,))
            return All(items=tuple(items))
        if isinstance(each, AnyOf):
            items = []
            for item in each.items:
                items.extend(item.items if isinstance(item, AnyOf) else (item,))
            return AnyOf(items=tuple(items))
        return each

    return _bottom_up(node, fix)


def dedupe_children(node: Node) -> Node:
    """Drop structurally equal repeats among an ``all``/``any``'s children (first kept)."""

    def fix(each: Node) -> Node:
        if isinstance(each, All | AnyOf):
            unique = tuple(dict.fromkeys(each.items))
            return All(items=unique) if isinstance(each, All) else AnyOf(items=unique)
        return each

    return _bottom_up(node, fix)


def unwrap_single(node: Node) -> Node:
    """``all(x)`` / ``any(x)`` → ``x``. Empty combinators stay (validation rejects them)."""

    def fix(each: Node) -> Node:
        if isinstance(each, All | AnyOf) and len(each.items) == 1:
            return each.items[0]
        return each

    return _bottom_up(node, fix)


RULES: tuple[Rule, ...] = (remove_double_negation, flatten, dedupe_children, unwrap_single)


def rewrite(node: Node, rules: tuple[Rule, ...] = RULES) -> Node:
    """Apply ``rules`` in order until nothing changes."""
    for _ in range(100):
        before = node
        for rule in rules:
            node = rule(node)
        if node == before:
            return node
    return node


def inline_references(node: Node, definitions: Mapping[str, Node]) -> Node:
    """Replace every ``SegmentRef`` by the referenced definition (validated acyclic)."""

    def inline(each: Node, stack: tuple[str, ...]) -> Node:
        if isinstance(each, SegmentRef):
            if each.segment in stack:
                raise ValueError(f"segment reference cycle through {each.segment!r}")
            return inline(definitions[each.segment], (*stack, each.segment))
        if isinstance(each, All):
            return All(items=tuple(inline(item, stack) for item in each.items))
        if isinstance(each, AnyOf):
            return AnyOf(items=tuple(inline(item, stack) for item in each.items))
        if isinstance(each, Not):
            return Not(item=inline(each.item, stack))
        return each

    return inline(node, ())
