"""JSON pointers into a node tree.

A node's pointer is its parent's plus its kind key (``/all/0/attribute``); a combinator's
children are numbered (``/all/0``), ``Not`` wraps one child (``/not/metric``). Issues point
further into the node's fields (``/all/0/attribute/comparison/value``).
"""

from __future__ import annotations

from collections.abc import Iterator

from segmentum.spec.nodes import (
    Aggregate,
    All,
    AnyOf,
    Attribute,
    Birthday,
    Bucket,
    Derived,
    HasTag,
    ManualList,
    MessageReaction,
    Metric,
    Node,
    Not,
    Percentile,
    Recency,
    SegmentRef,
    Sequence,
    Subscription,
)

KIND_KEYS: dict[type, str] = {
    All: "all",
    AnyOf: "any",
    Not: "not",
    Attribute: "attribute",
    Derived: "derived",
    Birthday: "birthday",
    HasTag: "has_tag",
    Aggregate: "aggregate",
    Sequence: "sequence",
    Recency: "recency",
    Metric: "metric",
    Percentile: "percentile",
    Subscription: "subscription",
    MessageReaction: "message_reaction",
    SegmentRef: "segment",
    Bucket: "bucket",
    ManualList: "manual_list",
}


def pointer(parent: str, node: Node) -> str:
    return f"{parent}/{KIND_KEYS[type(node)]}"


def nodes_with_pointers(node: Node, parent: str = "") -> Iterator[tuple[str, Node]]:
    """Every node with its pointer, parents before children."""
    here = pointer(parent, node)
    yield here, node
    if isinstance(node, All | AnyOf):
        for index, item in enumerate(node.items):
            yield from nodes_with_pointers(item, f"{here}/{index}")
    elif isinstance(node, Not):
        yield from nodes_with_pointers(node.item, here)
