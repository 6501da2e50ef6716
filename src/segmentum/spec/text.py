"""The one-line text syntax: ``parse_text`` and its canonical printer ``to_text``.

``lifecycle in (pre_churn, churn) and orders(within 365d).sum(amount) >= 10000 and
subscribed(sms) and not in_segment(complained_last_month)``

The grammar is ``segment.lark`` (LALR(1)); the parse tree becomes the external form and is read
by ``from_external``, so both forms accept exactly the same nodes and report the same codes
(their paths point into the equivalent external form). A syntax error is one ``SEG009`` issue
naming the line, the column and what was expected. ``parse_text(to_text(n)) == n`` for every
valid node.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lark import Lark, Token, Transformer, Tree, UnexpectedInput
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken, VisitError

from segmentum.spec.errors import SpecError, SpecIssue
from segmentum.spec.external import first_too_deep, from_external
from segmentum.spec.nodes import (
    METRICS,
    Activity,
    Aggregate,
    Ago,
    All,
    AnyOf,
    Attribute,
    Birthday,
    Bucket,
    Comparison,
    Dates,
    Derived,
    EachMonth,
    Filter,
    HasTag,
    ManualList,
    MessageReaction,
    Metric,
    MetricMeasure,
    Node,
    Not,
    Percentile,
    Recency,
    Scalar,
    SegmentRef,
    Sequence,
    SinceSignup,
    Subscription,
    Window,
    Within,
)

_PARSER = Lark.open_from_package(
    "segmentum.spec",
    "segment.lark",
    parser="lalr",
    lexer="contextual",
    maybe_placeholders=True,
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

KEYWORDS: frozenset[str] = frozenset(
    t.pattern.value
    for t in _PARSER.terminals
    if t.pattern.type == "str" and _IDENT.fullmatch(t.pattern.value)
)
"""Words of the syntax; a name equal to one is written as a quoted string."""

_TERMINAL_NAMES: dict[str, str] = {
    "IDENT": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "DATE": "a date",
    "DURATION": "a duration like 30d",
    "$END": "the end",
}


# --- parsing ---------------------------------------------------------------------------------


def parse_text(text: str) -> Node:
    """The node written as ``text``; raises ``SpecError`` (``SEG009`` for syntax, the
    external form's codes for the rest; ``SEG010`` for ``all``/``any``/``not`` nested deeper
    than ``MAX_NESTING``, before anything recursive runs on the tree)."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise SpecError([SpecIssue("SEG009", "", _syntax_message(exc))]) from None
    deep = _too_deep(tree)
    if deep is not None:
        raise SpecError([deep])
    try:
        data = _ToExternal().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SpecError):
            raise exc.orig_exc from None
        raise  # pragma: no cover - a bug in the transformer
    return from_external(data)


_COMBINATOR_RULES: dict[str, str] = {
    "not_": "not",
    "and_expr": "all",
    "all_of": "all",
    "or_expr": "any",
    "any_of": "any",
}
"""Parse-tree rules that become ``all``/``any``/``not`` (parentheses make no tree node)."""


def _tree_combinator(item: Tree[Token]) -> tuple[str, list[Tree[Token]]] | None:
    kind = _COMBINATOR_RULES.get(str(item.data))
    if kind is None:
        return None
    return kind, [child for child in item.children if isinstance(child, Tree)]


def _too_deep(tree: Tree[Token]) -> SpecIssue | None:
    """``external.first_too_deep`` on the parse tree, with the path of the equivalent external
    form (the transformer recurses once per tree level)."""
    return first_too_deep(tree, "", _tree_combinator)


def _syntax_message(exc: UnexpectedInput) -> str:
    where = f"line {exc.line} column {exc.column}"
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        found = "the end" if token.type == "$END" else repr(str(token))
        expected: set[str] = set(exc.expected)
    elif isinstance(exc, UnexpectedCharacters):
        found = repr(exc.char)
        expected = set(exc.allowed or ())
    elif isinstance(exc, UnexpectedEOF):  # pragma: no cover - LALR reports a $END token
        found = "the end"
        expected = set(exc.expected)
    else:  # pragma: no cover
        found, expected = "input", set()
    names = sorted({_terminal_name(name) for name in expected})
    wanted = f"; expected {', '.join(names)}" if names else ""
    return f"{where}: unexpected {found}{wanted}"


def _terminal_name(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    for terminal in _PARSER.terminals:
        if terminal.name == name:
            return repr(terminal.pattern.value)
    return name  # pragma: no cover


def _duplicate(what: str) -> SpecError:
    return SpecError([SpecIssue("SEG004", "", f"{what} is given twice")])


def _args(items: list[Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if item is None:
            continue
        key, value = item
        if key in out:
            raise _duplicate(f"{key} in {what}")
        out[key] = value
    return out


class _ToExternal(Transformer[Token, Any]):
    """Parse tree -> external form (plain dicts and lists)."""

    def or_expr(self, items: list[Any]) -> Any:
        return {"any": items}

    def and_expr(self, items: list[Any]) -> Any:
        return {"all": items}

    def not_(self, items: list[Any]) -> Any:
        return {"not": items[0]}

    def all_of(self, items: list[Any]) -> Any:
        return {"all": [i for i in items if i is not None]}

    def any_of(self, items: list[Any]) -> Any:
        return {"any": [i for i in items if i is not None]}

    def attribute(self, items: list[Any]) -> Any:
        field, comparison = items
        return {"attribute": {"field": str(field), **comparison}}

    def derived(self, items: list[Any]) -> Any:
        field, comparison = items
        return {field: comparison}

    def metric(self, items: list[Any]) -> Any:
        name, preset, comparison = items
        body = {"preset": preset} if preset is not None else {}
        return {name: {**body, **comparison}}

    def metric_percentile(self, items: list[Any]) -> Any:
        name, (direction, percent) = items
        return {"percentile": {"metric": name, direction: percent}}

    def birthday(self, items: list[Any]) -> Any:
        return {"birthday": {"within_days": items[0]}}

    def has_tag(self, items: list[Any]) -> Any:
        return {"has_tag": items[0]}

    def aggregate(self, items: list[Any]) -> Any:
        activity, function, field, condition = items
        body: dict[str, Any] = {"of": activity["of"], "fn": function}
        if field is not None:
            body["field"] = field
        body.update(activity)
        if isinstance(condition, tuple):
            direction, percent = condition
            return {"percentile": {**body, direction: percent}}
        return {"aggregate": {**body, **condition}}

    def percent(self, items: list[Any]) -> Any:
        return (items[0], items[1])

    def sequence(self, items: list[Any]) -> Any:
        first, followed, then, within, *matches = items
        body: dict[str, Any] = {"first": first, "then": then, "followed": followed}
        if within is not None:
            body["within"] = str(within)
        pairs = [m for m in matches if m is not None]
        if pairs:
            body["match"] = pairs
        return {"sequence": body}

    def followed(self, items: list[Any]) -> Any:
        return len(items) == 2  # "followed by", not "not followed by"

    def match(self, items: list[Any]) -> Any:
        return [items[0], items[1]]

    def recency(self, items: list[Any]) -> Any:
        which, activity, comparison = items
        return {"recency": {"of": activity["of"], "which": which, **activity, **comparison}}

    def recency_which(self, items: list[Any]) -> Any:
        return "last" if str(items[0]) == "days_since_last" else "first"

    def subscribed(self, items: list[Any]) -> Any:
        return {"subscription": items[0]}

    def message(self, items: list[Any]) -> Any:
        reaction, *args = items
        return {"message": {"reaction": reaction, **_args(args, "message(...)")}}

    def campaign(self, items: list[Any]) -> Any:
        return ("campaign", items[0])

    def channel(self, items: list[Any]) -> Any:
        return ("channel", items[0])

    def conversion_days(self, items: list[Any]) -> Any:
        return ("conversion_days", items[0])

    def in_segment(self, items: list[Any]) -> Any:
        return {"segment": items[0]}

    def bucket(self, items: list[Any]) -> Any:
        seed, modulo, comparison = items
        return {"bucket": {"seed": seed, "modulo": modulo, **comparison}}

    def in_list(self, items: list[Any]) -> Any:
        return {"manual_list": items[0]}

    def activity(self, items: list[Any]) -> Any:
        source, *args = items
        return {"of": source, **_args(args, f"{source}(...)")}

    def where(self, items: list[Any]) -> Any:
        return ("where", items)

    def filter(self, items: list[Any]) -> Any:
        field, comparison = items
        return {"field": field, **comparison}

    def within(self, items: list[Any]) -> Any:
        return ("within", str(items[0]))

    def ago(self, items: list[Any]) -> Any:
        if items[1] is None:
            return ("ago", str(items[0]))
        return ("ago", [str(items[0]), str(items[1])])

    def dates(self, items: list[Any]) -> Any:
        return ("dates", [str(items[0]), str(items[1])])

    def since_signup(self, items: list[Any]) -> Any:
        return ("since_signup", True)

    def each_month(self, items: list[Any]) -> Any:
        return ("each_month", items[0])

    # comparisons

    def binary(self, items: list[Any]) -> Any:
        op, value = items
        return {op: value}

    def cmp_op(self, items: list[Any]) -> Any:
        return _SYMBOL_OPS[str(items[0])]

    def text_op(self, items: list[Any]) -> Any:
        return str(items[0])

    def in_(self, items: list[Any]) -> Any:
        return {"in": items}

    def not_in(self, items: list[Any]) -> Any:
        return {"not_in": items}

    def between(self, items: list[Any]) -> Any:
        return {"between": items}

    def is_set(self, items: list[Any]) -> Any:
        return {"is_set": True}

    def is_not_set(self, items: list[Any]) -> Any:
        return {"is_not_set": True}

    # values and names

    def string(self, items: list[Any]) -> Any:
        return _unquote(items[0])

    def number(self, items: list[Any]) -> Any:
        return items[0]

    def date_value(self, items: list[Any]) -> Any:
        return str(items[0])

    def true(self, items: list[Any]) -> Any:
        return True

    def false(self, items: list[Any]) -> Any:
        return False

    def bare(self, items: list[Any]) -> Any:
        return str(items[0])

    def name(self, items: list[Any]) -> Any:
        token = items[0]
        return _unquote(token) if token.type == "STRING" else str(token)

    def field_path(self, items: list[Any]) -> Any:
        if len(items) == 1 and items[0].type == "STRING":
            return _unquote(items[0])
        return ".".join(str(i) for i in items)

    def derived_field(self, items: list[Any]) -> Any:
        return str(items[0])

    def metric_name(self, items: list[Any]) -> Any:
        return str(items[0])

    def agg_fn(self, items: list[Any]) -> Any:
        return str(items[0])

    def direction(self, items: list[Any]) -> Any:
        return str(items[0])

    def NUMBER(self, token: Token) -> Any:  # noqa: N802 - lark calls terminal callbacks by name
        text = str(token)
        if any(c in text for c in ".eE"):
            return float(text)
        return int(text)


def _unquote(token: Token) -> str:
    value = json.loads(str(token))
    assert isinstance(value, str)
    return value


# --- printing --------------------------------------------------------------------------------

_SYMBOL_OPS = {"=": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
_OP_SYMBOLS = {op: symbol for symbol, op in _SYMBOL_OPS.items()}
_OR, _AND, _NOT, _ATOM = 1, 2, 3, 4


def to_text(node: Node) -> str:
    """The canonical text of ``node``: ``parse_text(to_text(node)) == node``."""
    return _expr(node, 0)


def _precedence(node: Node) -> int:
    if isinstance(node, AnyOf) and len(node.items) > 1:
        return _OR
    if isinstance(node, All) and len(node.items) > 1:
        return _AND
    if isinstance(node, Not):
        return _NOT
    return _ATOM


def _expr(node: Node, context: int) -> str:
    text = _node(node)
    return f"({text})" if _precedence(node) < context else text


def _node(node: Node) -> str:
    if isinstance(node, All | AnyOf):
        if len(node.items) > 1:
            join, inner = (" or ", _AND) if isinstance(node, AnyOf) else (" and ", _NOT)
            return join.join(_expr(item, inner) for item in node.items)
        word = "any" if isinstance(node, AnyOf) else "all"
        return f"{word}({', '.join(_expr(item, 0) for item in node.items)})"
    if isinstance(node, Not):
        return f"not {_expr(node.item, _NOT)}"
    if isinstance(node, Attribute):
        if _bare(node.field):
            return f"{node.field} {_comparison(node.comparison)}"
        return f"attribute({_field(node.field)}) {_comparison(node.comparison)}"
    if isinstance(node, Derived):
        return f"{node.field} {_comparison(node.comparison)}"
    if isinstance(node, Metric):
        preset = f"({_name(node.preset)})" if node.preset is not None else ""
        return f"{node.name}{preset} {_comparison(node.comparison, bare_values=True)}"
    if isinstance(node, Birthday):
        return f"birthday_within({node.within_days})"
    if isinstance(node, HasTag):
        return f"has_tag({_name(node.tag)})"
    if isinstance(node, Aggregate):
        measure = _measure(node.activity, node.function, node.field)
        return f"{measure} {_comparison(node.comparison)}"
    if isinstance(node, Percentile):
        return _percentile(node)
    if isinstance(node, Sequence):
        return _sequence(node)
    if isinstance(node, Recency):
        return f"days_since_{node.which}({_activity(node.activity)}) {_comparison(node.comparison)}"
    if isinstance(node, Subscription):
        return f"subscribed({node.channel})"
    if isinstance(node, MessageReaction):
        return _message(node)
    if isinstance(node, SegmentRef):
        return f"in_segment({_name(node.segment)})"
    if isinstance(node, Bucket):
        return f"bucket({_name(node.seed)}, {node.modulo}) {_comparison(node.comparison)}"
    if isinstance(node, ManualList):
        return f"in_list({_name(node.list_name)})"
    raise TypeError(f"not a segment node: {node!r}")  # pragma: no cover


def _percentile(node: Percentile) -> str:
    measure = node.measure
    if isinstance(measure, MetricMeasure):
        metric = measure.metric
        head = metric if metric in METRICS else f"metric({_name(metric)})"
    else:
        head = _measure(measure.activity, measure.function, measure.field)
    return f"{head} in {node.direction} {_number(_whole(node.percent))}%"


def _sequence(node: Sequence) -> str:
    followed = "followed by" if node.followed else "not followed by"
    text = f"{_activity(node.first)} {followed} {_activity(node.then)}"
    if node.within is not None:
        text += f" within {node.within}"
    if node.match:
        text += " on " + ", ".join(f"{_field(a)} = {_field(b)}" for a, b in node.match)
    return f"sequence({text})"


def _message(node: MessageReaction) -> str:
    args = [_name(node.reaction)]
    if node.campaign is not None:
        args.append(f"campaign = {_name(node.campaign)}")
    if node.channel is not None:
        args.append(f"channel = {node.channel}")
    window = _window(node.window)
    if window:
        args.append(window)
    if node.conversion_days is not None:
        args.append(f"conversion_days = {node.conversion_days}")
    return f"message({', '.join(args)})"


def _measure(activity: Activity, function: str, field: str | None) -> str:
    return f"{_activity(activity)}.{function}({'' if field is None else _field(field)})"


def _activity(activity: Activity) -> str:
    args = []
    window = _window(activity.window)
    if window:
        args.append(window)
    if activity.filters:
        args.append("where " + " and ".join(_filter(f) for f in activity.filters))
    source = _name(activity.source)
    return f"{source}({', '.join(args)})" if args else source


def _filter(item: Filter) -> str:
    return f"{_field(item.field)} {_comparison(item.comparison)}"


def _window(window: Window) -> str:
    if isinstance(window, Within):
        return f"within {window.duration}"
    if isinstance(window, Ago):
        if window.oldest is None:
            return f"ago {window.newest}"
        return f"ago {window.newest}..{window.oldest}"
    if isinstance(window, Dates):
        return f"dates {window.start.isoformat()}..{window.end.isoformat()}"
    if isinstance(window, SinceSignup):
        return "since_signup"
    if isinstance(window, EachMonth):
        return f"each_month {window.months}"
    return ""


def _comparison(comparison: Comparison, bare_values: bool = False) -> str:
    op, value = comparison.op, comparison.value

    def one(v: Scalar) -> str:
        return _value(v, bare_values)

    if op in _OP_SYMBOLS:
        return f"{_OP_SYMBOLS[op]} {_value(value, bare_values)}"  # type: ignore[arg-type]
    if op in ("in", "not_in"):
        values = value if isinstance(value, tuple) else (value,)
        word = "in" if op == "in" else "not in"
        return f"{word} ({', '.join(one(v) for v in values)})"  # type: ignore[arg-type]
    if op == "between":
        low, high = value if isinstance(value, tuple) else (value, value)
        return f"between {one(low)} and {one(high)}"  # type: ignore[arg-type]
    if op == "is_set":
        return "is set"
    if op == "is_not_set":
        return "is not set"
    return f"{op} {_value(value, bare_values)}"  # type: ignore[arg-type]


def _value(value: Scalar, bare: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if bare and _bare(value):
        return value
    return _quote(value)


def _whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _number(value: int | float) -> str:
    return repr(value)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _bare(text: str) -> bool:
    return bool(_IDENT.fullmatch(text)) and text not in KEYWORDS


def _name(text: str) -> str:
    return text if _bare(text) else _quote(text)


def _field(text: str) -> str:
    parts = text.split(".")
    return text if all(_bare(part) for part in parts) else _quote(text)


__all__ = ["KEYWORDS", "parse_text", "to_text"]
