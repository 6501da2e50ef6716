"""Captured blocks (set, macro, call, filter) under the value cap; non-text block results."""

from __future__ import annotations

import tracemalloc

import pytest

from segmentum.campaigns.templates import (
    MessageTemplate,
    TemplateError,
    TemplateLimitError,
    compile_template,
    render,
)

BIG = "{% set s = 'a' * 262000 %}"
LOOP = "{% for i in range(1500) %}{{ s }}{% endfor %}"
CAPPED = "body line 1: a set, macro, call or filter block would exceed 262144 characters"


def body(source: str, context: dict[str, object] | None = None) -> str:
    return render(compile_template(MessageTemplate(source)), context or {}, "en").body


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("set block", BIG + "{% set big %}" + LOOP + "{% endset %}{{ big | length }}"),
        (
            "set block of distinct strings",
            BIG + "{% set big %}{% for i in range(5000) %}{{ s ~ i }}{% endfor %}{% endset %}x",
        ),
        ("macro", BIG + "{% macro m() %}" + LOOP + "{% endmacro %}{{ m() | length }}"),
        (
            "macro output dropped",
            BIG + "{% macro m() %}" + LOOP + "{% endmacro %}{% set x = m() %}",
        ),
        ("filter block", BIG + "{% filter length %}" + LOOP + "{% endfilter %}"),
        (
            "call block",
            BIG + "{% macro m() %}{{ caller() | length }}{% endmacro %}"
            "{% call m() %}" + LOOP + "{% endcall %}",
        ),
        ("two pieces just over", BIG + "{% set b %}{{ s }}{{ 'a' * 145 }}{% endset %}"),
        (
            "nested blocks",
            BIG + "{% set outer %}{% set inner %}{{ s }}{% endset %}{{ inner }}{{ inner }}"
            "{% endset %}",
        ),
    ],
)
def test_captured_blocks_are_capped(name: str, source: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateLimitError) as caught:
            body(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value) == CAPPED, name
    assert peak < 4_000_000, name  # before the fix: hundreds of MB


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{% set s = 'a' * 262000 %}{% set b %}{{ s }}{{ 'a' * 144 }}{% endset %}"
            "{{ b | length }}",
            "262144",
        ),
        ("{% set x %}ab{{ 'c' }}{% endset %}{{ x | upper }}", "ABC"),
        ("{% macro m(n) %}<{{ n }}>{% endmacro %}{{ m(1) }}{{ m(2) }}", "<1><2>"),
        ("{% macro m() %}[{{ caller() }}]{% endmacro %}{% call m() %}in{% endcall %}", "[in]"),
        ("{% filter upper %}abc{% endfilter %}", "ABC"),
        ("{% block a %}x{% endblock %}{{ self.a() }}", "xx"),
    ],
)
def test_blocks_within_the_cap_render(source: str, expected: str) -> None:
    assert body(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% filter wordcount %}hello world{% endfilter %}", "2"),
        ("{% filter length %}hello{% endfilter %}", "5"),
        ("{% filter list %}ab{% endfilter %}", "['a', 'b']"),
        ("{% filter first %}xyz{% endfilter %}!", "x!"),
        ("{% set n %}{% filter wordcount %}a b c{% endfilter %}{% endset %}{{ n ~ '!' }}", "3!"),
        ("{% macro m() %}{% filter length %}abcd{% endfilter %}{% endmacro %}{{ m() }}", "4"),
    ],
)
def test_filter_blocks_returning_non_text_print_as_text(source: str, expected: str) -> None:
    assert body(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% filter wordcount %}a b{% endfilter %}", "2"),
        ("{% filter list %}<b{% endfilter %}", "[&#39;&lt;&#39;, &#39;b&#39;]"),
        ("{% set h %}<i>{{ '<' }}</i>{% endset %}{{ h }}", "<i>&lt;</i>"),
    ],
)
def test_html_part_escapes_non_text_block_results(source: str, expected: str) -> None:
    compiled = compile_template(MessageTemplate(body="x", html=source))
    assert render(compiled, {}).html == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% filter money %}{% endfilter %}", "body line 1: not an amount: ''"),
        (
            "{% set x %}{% filter attr('nope') %}abc{% endfilter %}{% endset %}",
            "body line 1: undefined field: 'str object' has no attribute 'nope'",
        ),
        (
            "{% filter attr('nope') %}abc{% endfilter %}",
            "body: undefined field: 'str object' has no attribute 'nope'",
        ),
    ],
)
def test_failing_filter_blocks_are_template_errors(source: str, expected: str) -> None:
    with pytest.raises(TemplateError) as caught:
        body(source, {"currency": "CZK"})
    assert str(caught.value) == expected
