"""The nesting limit (SEG010): ``all``/``any``/``not`` nested deeper than ``MAX_NESTING`` are
one issue, in the text syntax and the external form alike, checked before anything recursive
runs (no RecursionError however deep); parentheses alone never count."""

from __future__ import annotations

from typing import Any

import pytest

from segmentum.spec.errors import ISSUE_CODES, SpecError
from segmentum.spec.external import (
    MAX_NESTING,
    definition_from_external,
    from_external,
    load_yaml,
    to_external,
)
from segmentum.spec.nodes import All, HasTag, Not
from segmentum.spec.text import parse_text, to_text

MESSAGE = "the condition is nested deeper than 100 levels (all, any and not inside one another)"
LEAF = {"has_tag": "vip"}


def nested(kind: str, levels: int, leaf: Any = LEAF) -> Any:
    node = leaf
    for _ in range(levels):
        node = {"not": node} if kind == "not" else {kind: [node]}
    return node


def test_code_and_limit() -> None:
    assert MAX_NESTING == 100
    assert ISSUE_CODES["SEG010"] == "nested too deeply"
    assert sorted(ISSUE_CODES) == [f"SEG{n:03d}" for n in range(1, 11)]


TEXT_CASES: list[tuple[str, str, str | None]] = [
    ("not_100", "not " * 100 + "has_tag(vip)", None),
    ("not_101", "not " * 101 + "has_tag(vip)", "/not" * 100),
    ("not_600", "not " * 600 + "has_tag(vip)", "/not" * 100),
    ("not_100000", "not " * 100_000 + "has_tag(vip)", "/not" * 100),
    ("all_100", "all(" * 100 + "has_tag(vip)" + ")" * 100, None),
    ("all_101", "all(" * 101 + "has_tag(vip)" + ")" * 101, "/all/0" * 100),
    ("any_101", "any(" * 101 + "has_tag(vip)" + ")" * 101, "/any/0" * 100),
    ("or_right_101", "(age > 1 or " * 101 + "has_tag(vip)" + ")" * 101, "/any/1" * 100),
    ("and_left_101", "(" * 101 + "has_tag(vip)" + " and age > 1)" * 101, "/all/0" * 100),
    (
        "second_branch",
        "has_tag(a) or " + "not " * 101 + "has_tag(vip)",
        "/any/1" + "/not" * 99,
    ),
    ("parens_2000", "(" * 2000 + "has_tag(vip)" + ")" * 2000, None),
    ("parens_5000_and", "(" * 5000 + "has_tag(vip) and age > 3" + ")" * 5000, None),
    ("not_parens_100", "not (" * 100 + "has_tag(vip)" + ")" * 100, None),
]


@pytest.mark.parametrize(
    ("text", "path"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
def test_text_nesting(text: str, path: str | None) -> None:
    if path is None:
        node = parse_text(text)
        assert parse_text(to_text(node)) == node
        return
    with pytest.raises(SpecError) as raised:
        parse_text(text)
    assert [(i.code, i.path, i.message) for i in raised.value.issues] == [("SEG010", path, MESSAGE)]


EXTERNAL_CASES: list[tuple[str, Any, str | None]] = [
    ("not_100", nested("not", 100), None),
    ("not_101", nested("not", 101), "/not" * 100),
    ("not_600", nested("not", 600), "/not" * 100),
    ("not_5000", nested("not", 5000), "/not" * 100),
    ("all_100", nested("all", 100), None),
    ("all_101", nested("all", 101), "/all/0" * 100),
    ("any_600", nested("any", 600), "/any/0" * 100),
    (
        "first_in_document_order",
        {"any": [LEAF, nested("all", 101), nested("not", 101)]},
        "/any/1" + "/all/0" * 99,
    ),
    # too deep and otherwise broken: only SEG010 (reading the rest would recurse)
    ("deep_and_bad_leaf", nested("not", 101, {"atribute": {}}), "/not" * 100),
]


@pytest.mark.parametrize(
    ("data", "path"), [c[1:] for c in EXTERNAL_CASES], ids=[c[0] for c in EXTERNAL_CASES]
)
def test_external_nesting(data: Any, path: str | None) -> None:
    if path is None:
        node = from_external(data)
        assert from_external(to_external(node)) == node
        return
    with pytest.raises(SpecError) as raised:
        from_external(data)
    assert [(i.code, i.path, i.message) for i in raised.value.issues] == [("SEG010", path, MESSAGE)]


@pytest.mark.parametrize("levels", [100, 101, 450, 600])
def test_text_and_external_report_the_same_path(levels: int) -> None:
    outcomes = []
    for read in (
        lambda: parse_text("not " * levels + "has_tag(vip)"),
        lambda: from_external(nested("not", levels)),
    ):
        try:
            outcomes.append(("ok", read()))
        except SpecError as error:
            outcomes.append(("error", error.codes()))
    assert outcomes[0] == outcomes[1]
    expected_ok = levels <= MAX_NESTING
    assert outcomes[0][0] == ("ok" if expected_ok else "error")


def test_hundred_levels_build_the_nodes() -> None:
    node: Any = HasTag(tag="vip")
    for _ in range(100):
        node = Not(item=node)
    assert from_external(nested("not", 100)) == node
    assert parse_text("not " * 100 + "has_tag(vip)") == node
    node = HasTag(tag="vip")
    for _ in range(100):
        node = All(items=(node,))
    assert parse_text("all(" * 100 + "has_tag(vip)" + ")" * 100) == node


WHERE_NOT = "/where" + "/not" * 100
DEFINITION_CASES: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("where_node_101", {"name": "deep", "where": nested("not", 101)}, [("SEG010", WHERE_NOT)]),
    ("where_text_101", {"name": "deep", "where": "not " * 101 + "x = 1"}, [("SEG010", WHERE_NOT)]),
    (
        "bad_name_and_deep",
        {"name": "Deep", "where": nested("any", 600)},
        [("SEG008", "/name"), ("SEG010", "/where" + "/any/0" * 100)],
    ),
    ("where_node_100", {"name": "deep", "where": nested("not", 100)}, []),
]


@pytest.mark.parametrize(
    ("data", "codes"), [c[1:] for c in DEFINITION_CASES], ids=[c[0] for c in DEFINITION_CASES]
)
def test_definition_nesting(data: Any, codes: list[tuple[str, str]]) -> None:
    if not codes:
        assert definition_from_external(data).name == "deep"
        return
    with pytest.raises(SpecError) as raised:
        definition_from_external(data)
    assert raised.value.codes() == codes


def test_yaml_nesting() -> None:
    document = "{not: " * 101 + "{has_tag: vip}" + "}" * 101
    with pytest.raises(SpecError) as raised:
        load_yaml(document)
    assert raised.value.codes() == [("SEG010", "/not" * 100)]


# the NUL check walks with a stack now: same issues, same order, any depth
NUL_CASES: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("one", {"has_tag": "a\x00"}, [("SEG008", "/has_tag")]),
    (
        "document_order",
        {"all": [{"has_tag": "a\x00"}, {"attribute": {"field": "c\x00", "eq": "d\x00"}}]},
        [
            ("SEG008", "/all/0/has_tag"),
            ("SEG008", "/all/1/attribute/field"),
            ("SEG008", "/all/1/attribute/eq"),
        ],
    ),
    ("key", {"attribute": {"field": "x", "e\x00q": 1}}, [("SEG008", "/attribute")]),
]


@pytest.mark.parametrize(
    ("data", "codes"), [c[1:] for c in NUL_CASES], ids=[c[0] for c in NUL_CASES]
)
def test_nul_issues_in_document_order(data: Any, codes: list[tuple[str, str]]) -> None:
    with pytest.raises(SpecError) as raised:
        from_external(data)
    assert raised.value.codes()[: len(codes)] == codes


def test_deep_junk_value_is_a_shape_error_not_a_crash() -> None:
    value: Any = "x"
    for _ in range(5000):
        value = [value]
    with pytest.raises(SpecError) as raised:
        from_external({"attribute": {"field": "x", "eq": value}})
    assert raised.value.codes() == [("SEG004", "/attribute/eq")]
