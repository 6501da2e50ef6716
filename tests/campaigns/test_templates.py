"""Sandboxed message templates: fields, localised filters, caps and escape attempts."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from segmentum.campaigns.templates import (
    MessageTemplate,
    RenderedMessage,
    TemplateError,
    TemplateLimitError,
    TemplateLimits,
    TemplateSecurityError,
    available_fields,
    check_fields,
    compile_template,
    render,
    render_batch,
)
from segmentum.catalog.settings import WorkspaceSettings

NBSP = "\u00a0"
NNBSP = "\u202f"


def body(source: str, context: dict[str, object] | None = None, language: str | None = None) -> str:
    return render(compile_template(MessageTemplate(source)), context or {}, language).body


# --- content and formatting --------------------------------------------------------------------


def test_czech_money_example_from_the_docs() -> None:
    assert body('{{ 1234.5 | money("CZK") }}', language="cs") == f"1{NBSP}234,50{NBSP}Kč"


@pytest.mark.parametrize(
    ("language", "currency", "expected"),
    [
        ("cs", "CZK", f"1{NBSP}234,50{NBSP}Kč | 5. 3. 2026 | 5. března 2026 | 1{NBSP}234,57"),
        (
            "ru",
            "RUB",
            f"1{NBSP}234,50{NBSP}₽ | 5 мар. 2026{NNBSP}г. | 5 марта 2026{NNBSP}г. | 1{NBSP}234,57",
        ),
        ("pl", "PLN", f"1{NBSP}234,50{NBSP}zł | 5 mar 2026 | 5 marca 2026 | 1{NBSP}234,57"),
        ("en", "USD", "$1,234.50 | Mar 5, 2026 | March 5, 2026 | 1,234.57"),
        ("de", "EUR", f"1.234,50{NBSP}€ | 05.03.2026 | 5. März 2026 | 1.234,57"),
        ("cs-CZ", "EUR", f"1{NBSP}234,50{NBSP}€ | 5. 3. 2026 | 5. března 2026 | 1{NBSP}234,57"),
        ("xx", "EUR", "€1,234.50 | Mar 5, 2026 | March 5, 2026 | 1,234.57"),  # unknown: en
        (None, "EUR", "€1,234.50 | Mar 5, 2026 | March 5, 2026 | 1,234.57"),
    ],
)
def test_money_date_number_per_language(language: str | None, currency: str, expected: str) -> None:
    source = '{{ a | money(cur) }} | {{ d | date }} | {{ d | date("long") }} | {{ n | number(2) }}'
    context = {"a": Decimal("1234.5"), "cur": currency, "d": date(2026, 3, 5), "n": 1234.567}
    assert body(source, context, language) == expected


def test_instants_are_shown_in_the_customer_zone() -> None:
    context = {"t": datetime(2026, 3, 5, 23, 30), "timezone": "Europe/Prague"}  # naive = UTC
    assert body('{{ t | datetime("short") }} / {{ t | date }}', context, "cs") == (
        "06.03.26 0:30 / 6. 3. 2026"
    )


def test_money_falls_back_to_the_currency_field() -> None:
    assert body("{{ 10 | money }}", {"currency": "EUR"}, "de") == f"10,00{NBSP}€"
    with pytest.raises(TemplateError, match="money needs a currency"):
        body("{{ 10 | money }}")


def test_cyrillic_czech_polish_content() -> None:
    template = MessageTemplate(
        body="{{ first_name }}, ваш заказ №{{ last_order.number }} на {{ last_order.amount | "
        'money("RUB") }} доставлен.',
        subject="Zažluťoučký kůň — {{ campaign.name }}",
        html="<p>Zażółć {{ first_name }} &amp; {{ last_order.products | join(', ') }}</p>",
    )
    context = {
        "first_name": "Łukasz <b>",
        "last_order": {"number": "A-17", "amount": Decimal("990"), "products": ["Čaj", "Кофе"]},
        "campaign": {"name": "Jaro\n2026"},
    }
    rendered = render(compile_template(template), context, "ru")
    assert rendered == RenderedMessage(
        body=f"Łukasz <b>, ваш заказ №A-17 на 990,00{NBSP}₽ доставлен.",
        subject="Zažluťoučký kůň — Jaro 2026",  # the subject is one header line
        html="<p>Zażółć Łukasz &lt;b&gt; &amp; Čaj, Кофе</p>",  # autoescape in HTML only
    )


def test_default_for_missing_and_null_fields() -> None:
    source = 'Ahoj {{ first_name | default("příteli") }}!'
    assert body(source, {"first_name": None}) == "Ahoj příteli!"
    assert body(source, {}) == "Ahoj příteli!"
    assert body(source, {"first_name": "Jano"}) == "Ahoj Jano!"


def test_printing_null_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"body line 2: a printed value is empty \(null\)"):
        body("Ahoj\n{{ first_name }}", {"first_name": None})


def test_loops_conditions_and_safe_methods() -> None:
    source = (
        "{% for p in products %}{{ loop.index }}. {{ p | upper }}{% if not loop.last %}; "
        "{% endif %}{% endfor %} {{ 'a,b'.split(',') | length }} {{ range(3) | sum }}"
    )
    assert body(source, {"products": ["čaj", "káva"]}) == "1. ČAJ; 2. KÁVA 2 3"


# --- errors found before sending ----------------------------------------------------------------


def test_undefined_field_is_an_error_with_line() -> None:
    with pytest.raises(TemplateError) as caught:
        body("Ahoj\n\n{{ frist_name }}", {"first_name": "Jana"})
    assert str(caught.value) == "body line 3: undefined field: 'frist_name' is undefined"
    assert caught.value.part == "body"
    assert caught.value.line == 3


def test_syntax_error_has_part_and_line() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(MessageTemplate("ok", subject="Hi\n{% if %}"))
    assert caught.value.part == "subject"
    assert caught.value.line == 2
    assert str(caught.value).startswith("subject line 2: syntax error: ")


def test_removed_filters_fail_at_compile_time() -> None:
    with pytest.raises(TemplateError, match="No filter named 'center'"):
        compile_template(MessageTemplate("{{ x | center(10) }}"))


def test_check_fields() -> None:
    compiled = compile_template(
        MessageTemplate(
            body="{{ first_name }} {{ vip_level }} {{ last_order.amount }} {{ last_order.colour }}",
            subject="{{ campaign.name }} {{ campaign['nmae'] }} {% set x = 1 %}{{ x }}",
            html="{% for i in range(2) %}{{ i }}{% endfor %}{{ loyalty_tier }}",
        )
    )
    available = available_fields()
    assert check_fields(compiled, available) == ["campaign.nmae", "last_order.colour", "vip_level"]
    settings = WorkspaceSettings(customer_attributes={"vip_level": "text"})  # type: ignore[dict-item]
    assert check_fields(compiled, available_fields(settings)) == [
        "campaign.nmae",
        "last_order.colour",
    ]
    assert (
        check_fields(
            compiled, ["first_name", "vip_level", "last_order", "campaign", "loyalty_tier"]
        )
        == []
    )


# --- the sandbox ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ namespace.__init__.__globals__['os'] }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ (1).to_bytes(1000000000, 'big') }}",
        "{{ 'x'.center(1000000000) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ d.update({'a': 1}) }}",
    ],
)
def test_sandbox_escapes_are_security_errors(source: str) -> None:
    with pytest.raises(TemplateSecurityError) as caught:
        body(source, {"d": {}})
    assert caught.value.part == "body"


def test_security_error_keeps_jinja_cause() -> None:
    from jinja2.exceptions import SecurityError

    with pytest.raises(TemplateSecurityError) as caught:
        body("{{ ''.__class__.__mro__ }}")
    assert isinstance(caught.value.__cause__, SecurityError)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'a' * 50000000 }}", "repetition would build 50000000"),
        ("{{ 50000000 * 'a' }}", "repetition would build 50000000"),
        ("{{ [[0] * 100000] * 100000 }}", "repetition would build"),
        ("{% for i in range(10**9) %}x{% endfor %}", "range of 1000000000 items"),
        (
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            "more than 100000 loop iterations",
        ),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "would exceed 262144",
        ),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "concatenation would exceed",
        ),
        ("{{ 7 ** 100000 }}", "power too large"),
        ("{{ 'a' | replace('a', 'b' * 200000) * 2 }}", "repetition would build"),
        ("{{ 'ab' | replace('', 'x' * 200000) }}", "replace would exceed"),
        ("{{ ['x' * 200000, 'y' * 200000] | join }}", "join would exceed"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion too deep"),
        ("{% for i in range(3000) %}{{ 'hello' }}{% endfor %}", "output exceeds 10240 bytes"),
    ],
)
def test_caps_refuse_quickly(source: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateLimitError, match=message):
        body(source)
    assert time.monotonic() - started < 2.0


def test_recursive_loops_are_refused_at_compile_time() -> None:
    with pytest.raises(TemplateError, match="recursive loops are not supported"):
        compile_template(MessageTemplate("{% for x in xs recursive %}{{ loop(x) }}{% endfor %}"))


def test_caps_are_configurable() -> None:
    limits = TemplateLimits(max_body_bytes=5, max_range=3)
    compiled = compile_template(MessageTemplate("{{ text }}"), limits)
    assert render(compiled, {"text": "12345"}).body == "12345"
    with pytest.raises(TemplateLimitError, match="output exceeds 5 bytes"):
        render(compiled, {"text": "čaj12"})  # č is two bytes of UTF-8
    with pytest.raises(TemplateLimitError, match="range of 4 items"):
        render(compile_template(MessageTemplate("{{ range(4) | list }}"), limits), {})
    assert TemplateLimits.for_channel("email").max_body_bytes == 262_144
    assert TemplateLimits.for_channel("web_push").max_body_bytes == 4_096


def test_html_cap_is_separate() -> None:
    compiled = compile_template(
        MessageTemplate("short", html="{% for i in range(3000) %}<p>{{ i }}</p>{% endfor %}")
    )
    rendered = render(compiled, {})
    assert rendered.html is not None
    assert rendered.html.startswith("<p>0</p><p>1</p>")


def test_render_time_cap() -> None:
    limits = TemplateLimits(max_render_seconds=0.05, max_loop_iterations=10**9, max_range=10**6)
    source = "{% for i in range(1000000) %}{% set x = i * 2 %}{% endfor %}"
    with pytest.raises(TemplateLimitError, match=r"rendering took longer than 0\.05 s"):
        render(compile_template(MessageTemplate(source), limits), {})


# --- batches ----------------------------------------------------------------------------


def test_render_batch() -> None:
    compiled = compile_template(
        MessageTemplate(
            body="{{ first_name }}: {{ last_order.amount | money(currency) }}"
            " ({{ campaign.name }})",
            subject="{{ campaign.name }}",
        )
    )
    rows = pa.table(
        {
            "first_name": ["Jana", "Иван", None],
            "language": ["cs", "ru", "pl"],
            "last_order": [
                {"amount": Decimal("1234.50")},
                {"amount": Decimal("10.00")},
                {"amount": Decimal("1.00")},
            ],
        }
    )
    table = render_batch(compiled, rows, context={"campaign": {"name": "Jaro"}, "currency": "CZK"})
    assert table.schema.names == ["body", "subject", "html", "error"]
    assert table.to_pylist() == [
        {
            "body": f"Jana: 1{NBSP}234,50{NBSP}Kč (Jaro)",
            "subject": "Jaro",
            "html": None,
            "error": None,
        },
        {"body": f"Иван: 10,00{NBSP}CZK (Jaro)", "subject": "Jaro", "html": None, "error": None},
        {
            "body": None,
            "subject": None,
            "html": None,
            "error": "body line 1: a printed value is empty (null); give it a default: "
            '{{ field | default("…") }}',
        },
    ]


def test_render_batch_without_language_column() -> None:
    compiled = compile_template("{{ 5 | money('EUR') }}")
    table = render_batch(compiled, pa.table({"x": [1, 2]}))
    assert table.column("body").to_pylist() == ["€5.00", "€5.00"]
