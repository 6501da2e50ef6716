"""Message templates: sandboxed Jinja2 with strict fields, localised filters and hard caps.

A template has a text body and, for e-mail, a subject and an HTML part. Each part compiles in
an `ImmutableSandboxedEnvironment` (autoescape on for the HTML part only) with
`StrictUndefined`, so a misspelt field is an error at preview or compile time (`check_fields`)
instead of a blank in ten thousand messages.

The Jinja2 sandbox stops attribute escapes but caps neither time nor size (``'a' * 50000000``
renders 50 MB), so this module adds:

* size checks *before* allocation on ``*``, ``+`` and ``**``, on ``~`` operands, on printing a
  value, and in the `join`, `replace` and `string` filters; ``%`` string formatting,
  ``str.format`` and padding methods (``center``, ``ljust``, ``zfill`` …) are refused;
* a capped `range`, a per-render budget of loop iterations (every ``for`` is wrapped at
  compile time), no ``recursive`` loops, and a wall-clock deadline checked on every call,
  iteration and output chunk;
* an output cap per part (bytes of UTF-8), checked while the output streams, and the value
  cap on every captured block (``{% set x %}…{% endset %}``, a macro's or ``caller()``'s
  output, a ``{% filter %}`` block), counted piece by piece as the block's buffer fills, so
  memory stays bounded however the output is assembled;
* an allow-list of filters: no `center`, `indent`, `wordwrap`, `format`, `batch`, `slice`,
  `tojson`, `pprint`, `xmlattr`, `urlize`, `random`; no `lipsum`.

Any failure while compiling or rendering is a `TemplateError` naming the part and the line;
sandbox violations are `TemplateSecurityError` (caused by Jinja's `SecurityError` where Jinja
raised it), caps are `TemplateLimitError`.

A value that is None (an empty column) cannot be printed: ``{{ first_name }}`` for a customer
without a first name is an error for that customer, ``{{ first_name | default("friend") }}``
prints "friend" (this module's `default` treats None like an undefined value).
"""

from __future__ import annotations

import time
import traceback
import types
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from datetime import time as clock_time
from decimal import Decimal
from typing import Any, Literal

import jinja2
import pyarrow as pa
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from segmentum.campaigns.formatting import (
    FormattingError,
    format_day,
    format_moment,
    format_money,
    format_number,
)
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.tables import CUSTOMERS

Part = Literal["body", "subject", "html"]
PARTS: tuple[Part, ...] = ("body", "subject", "html")


class TemplateError(Exception):
    """A template that cannot compile or render; `part` and `line` say where."""

    def __init__(self, message: str, *, part: str | None = None, line: int | None = None):
        self.message = message
        self.part = part
        self.line = line
        super().__init__(self._text())

    def _text(self) -> str:
        where = " ".join(
            item
            for item in (self.part or "", f"line {self.line}" if self.line is not None else "")
            if item
        )
        return f"{where}: {self.message}" if where else self.message

    def located(self, part: str, line: int | None) -> TemplateError:
        """The same error class with a place filled in (what is already set wins)."""
        error = type(self)(self.message, part=self.part or part, line=self.line or line)
        error.__cause__ = self.__cause__ or self
        return error


class TemplateSecurityError(TemplateError):
    """The template tried something the sandbox forbids (private attributes, unsafe calls)."""


class TemplateLimitError(TemplateError):
    """The template exceeded a size, loop or time cap."""


@dataclass(frozen=True)
class TemplateLimits:
    """Caps per rendered part. Sizes are UTF-8 bytes; strings are counted in characters."""

    max_body_bytes: int = 10_240
    max_subject_bytes: int = 998
    max_html_bytes: int = 262_144
    #: Largest intermediate string or list a template may build (``*``, ``+``, ``~``, join).
    max_value_size: int = 262_144
    max_range: int = 10_000
    max_loop_iterations: int = 100_000
    max_power_bits: int = 4_096
    max_render_seconds: float = 1.0

    @classmethod
    def for_channel(cls, channel: str) -> TemplateLimits:
        """SMS bodies 10 KB, e-mail text parts 256 KB, web-push 4 KB (the payload limit)."""
        if channel == "email":
            return cls(max_body_bytes=262_144)
        if channel == "web_push":
            return cls(max_body_bytes=4_096)
        return cls()

    def max_bytes(self, part: Part) -> int:
        return {
            "body": self.max_body_bytes,
            "subject": self.max_subject_bytes,
            "html": self.max_html_bytes,
        }[part]


@dataclass(frozen=True)
class MessageTemplate:
    body: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class RenderedMessage:
    body: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class CompiledTemplate:
    template: MessageTemplate
    limits: TemplateLimits
    #: Jinja templates per part present.
    parts: Mapping[str, jinja2.Template] = field(compare=False, repr=False)
    #: Context names the template reads (Jinja globals excluded).
    fields: frozenset[str] = frozenset()
    #: ``name.attribute`` pairs read directly off context names (``last_order.amount``).
    paths: frozenset[str] = frozenset()


# --- the render budget ----------------------------------------------------------------------


@dataclass
class _Budget:
    limits: TemplateLimits
    deadline: float
    language: str | None
    timezone: str | None
    iterations: int = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(
                f"rendering took longer than {self.limits.max_render_seconds:g} s"
            )


_BUDGET: ContextVar[_Budget | None] = ContextVar("segmentum_template_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    if budget is None:  # only when a Jinja object is used outside `render`
        limits = TemplateLimits()
        budget = _Budget(limits, time.monotonic() + limits.max_render_seconds, None, None)
        _BUDGET.set(budget)
    return budget


# --- size checks ----------------------------------------------------------------------------

_SCALARS = (int, float, Decimal, bool, date, clock_time, type(None))


def _bounded_size(value: Any, limit: int) -> int:
    """Characters or elements in `value`, nested containers included; stops past `limit`."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, _SCALARS):
        return 1
    if isinstance(value, Mapping):
        items: Iterable[Any] = (part for pair in value.items() for part in pair)
        total = len(value)
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
        total = len(value)
    else:
        return 1
    if total > limit:
        return total
    for item in items:
        total += _bounded_size(item, limit - total)
        if total > limit:
            break
    return total


def _check_size(value: Any, what: str) -> Any:
    limit = _budget().limits.max_value_size
    if _bounded_size(value, limit) > limit:
        raise TemplateLimitError(f"{what} would exceed {limit} characters or items")
    return value


def _text(value: Any, html: bool) -> str:
    """A piece of output as text: strings as they are; other values (a ``{% filter %}`` block's
    result such as ``wordcount``'s number) size-checked and converted, escaped in HTML parts."""
    if isinstance(value, str):
        return value
    if value is None:
        raise TemplateError("a block's result is empty (null)")
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises
    _check_size(value, "a block's result")
    return escape(value) if html else str(value)


class _Captured(list[str]):
    """The buffer of a captured block (set block, macro, ``caller()``, filter block). Every
    piece is converted to text and counted as it is added, so the block is refused before its
    pieces (or their join) outgrow ``max_value_size``."""

    def __init__(self, html: bool) -> None:
        super().__init__()
        self._html = html
        self._size = 0
        self._limit = _budget().limits.max_value_size

    def append(self, piece: Any) -> None:
        text = _text(piece, self._html)
        self._size += len(text)
        if self._size > self._limit:
            raise TemplateLimitError(
                f"a set, macro, call or filter block would exceed {self._limit} characters"
            )
        super().append(text)

    def extend(self, pieces: Iterable[Any]) -> None:
        for piece in pieces:
            self.append(piece)


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator with every block buffer a `_Captured` instead of a list."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.captured()")


# --- the sandbox ------------------------------------------------------------------------------

#: Methods of built-in values (str, numbers, dates, lists, dicts) that a template may call;
#: everything that pads, repeats or formats (center, ljust, zfill, format, join, …) is refused.
SAFE_METHODS = frozenset(
    {
        "upper",
        "lower",
        "title",
        "capitalize",
        "casefold",
        "swapcase",
        "strip",
        "lstrip",
        "rstrip",
        "startswith",
        "endswith",
        "split",
        "rsplit",
        "splitlines",
        "partition",
        "rpartition",
        "count",
        "find",
        "rfind",
        "index",
        "rindex",
        "removeprefix",
        "removesuffix",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "items",
        "keys",
        "values",
        "get",
        "isoformat",
        "weekday",
        "isoweekday",
        "strftime",
        "is_integer",
        "striptags",
        "unescape",
    }
)
_BUILTIN_VALUES = (str, bytes, int, float, Decimal, list, tuple, dict, set, frozenset, date)
_BUILTIN_METHODS = (types.BuiltinMethodType, types.MethodWrapperType, types.MethodDescriptorType)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = _CodeGenerator

    def captured(self) -> _Captured:
        """A new block buffer (called by the generated code)."""
        return _Captured(html=bool(self.autoescape))

    def concat(self, pieces: Iterable[Any]) -> str:
        """Join block output under the value cap (Jinja's own is ``"".join``)."""
        if not isinstance(pieces, _Captured):
            captured = self.captured()
            captured.extend(pieces)
            pieces = captured
        return "".join(pieces)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if callable(value) and (
            isinstance(obj, _BUILTIN_VALUES) or isinstance(value, _BUILTIN_METHODS)
        ):
            return attr in SAFE_METHODS
        return True

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        return None  # str.format / format_map fall to is_safe_attribute, which refuses them

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        limit = budget.limits.max_value_size
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                    size = _bounded_size(sequence, limit) * max(times, 0)
                    if size > limit:
                        raise TemplateLimitError(
                            f"repetition would build {size} characters or items (cap {limit})"
                        )
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                size = _bounded_size(left, limit) + _bounded_size(right, limit)
                if size > limit:
                    raise TemplateLimitError(f"concatenation would exceed {limit} characters")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                bits = right * max(abs(left).bit_length(), 1)
                if bits > budget.limits.max_power_bits:
                    raise TemplateLimitError(f"power too large (about {bits} bits)")
        elif operator == "%" and isinstance(left, str):
            raise TemplateSecurityError("string formatting with % is not allowed; use ~")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _budget().tick()
        return super().call(__context, __obj, *args, **kwargs)


def _capped_range(*args: int) -> range:
    values = range(*args)
    cap = _budget().limits.max_range
    if len(values) > cap:
        raise TemplateLimitError(f"range of {len(values)} items exceeds the cap of {cap}")
    return values


class _Guarded:
    """An iterable that counts every loop iteration against the render budget."""

    def __init__(self, iterable: Any):
        self._iterable = iterable

    def __len__(self) -> int:
        return len(self._iterable)

    def __iter__(self) -> Iterator[Any]:
        budget = _budget()
        cap = budget.limits.max_loop_iterations
        for item in self._iterable:
            budget.iterations += 1
            if budget.iterations > cap:
                raise TemplateLimitError(f"more than {cap} loop iterations")
            if not budget.iterations % 256:
                budget.tick()
            yield item


def _loop_guard(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        return value
    return _Guarded(value)


def _size_guard(value: Any) -> Any:
    return value if isinstance(value, jinja2.Undefined) else _check_size(value, "a value")


def _finalize(value: Any) -> Any:
    if value is None:
        raise TemplateError(
            'a printed value is empty (null); give it a default: {{ field | default("…") }}'
        )
    return _check_size(value, "a printed value")


# --- filters --------------------------------------------------------------------------------


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    if value is None or isinstance(value, jinja2.Undefined) or (boolean and not value):
        return default_value
    return value


@jinja2.pass_context
def _money(context: Context, amount: Any, currency: str | None = None) -> str | None:
    if amount is None:
        return None
    code = currency or context.get("currency")
    if not isinstance(code, str) or not code:
        raise TemplateError('money needs a currency: {{ amount | money("CZK") }}')
    return format_money(amount, code, _budget().language)


def _date(value: Any, style: str = "medium") -> str | None:
    if value is None:
        return None
    budget = _budget()
    return format_day(value, budget.language, _check_size(style, "a format"), budget.timezone)


def _datetime(value: Any, style: str = "medium") -> str | None:
    if value is None:
        return None
    budget = _budget()
    return format_moment(value, budget.language, _check_size(style, "a format"), budget.timezone)


def _number(value: Any, digits: int | None = None) -> str | None:
    if value is None:
        return None
    if digits is not None and not 0 <= digits <= 20:
        raise TemplateError("number: digits must be between 0 and 20")
    return format_number(value, _budget().language, digits)


@jinja2.pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], separator: str = "", attribute: Any = None) -> str:
    """Jinja's join with a size check per item; escapes like Jinja's in HTML parts."""
    limit = _budget().limits.max_value_size
    if attribute is not None:
        raise TemplateError("join(attribute=…) is not supported; use map(attribute=…) first")
    _check_size(separator, "a separator")
    html = bool(eval_ctx.autoescape)
    sep = escape(separator) if html else str(separator)
    parts: list[str] = []
    total = 0
    for item in value:
        if isinstance(item, jinja2.Undefined):
            str(item)  # StrictUndefined raises
        _check_size(item, "a joined item")
        text = escape(item) if html else str(item)
        total += len(text) + len(sep)
        if total > limit:
            raise TemplateLimitError(f"join would exceed {limit} characters")
        parts.append(text)
    return sep.join(parts)


def _replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text = str(_check_size(value, "a value"))
    old, new = str(old), str(new)
    found = text.count(old) if count is None else min(text.count(old), max(count, 0))
    if old == "":
        found = len(text) + 1
    size = len(text) + found * (len(new) - len(old))
    limit = _budget().limits.max_value_size
    if size > limit:
        raise TemplateLimitError(f"replace would exceed {limit} characters")
    result = text.replace(old, new, -1 if count is None else count)
    return Markup(result) if isinstance(value, Markup) else result  # noqa: S704


def _string(value: Any) -> str:
    return str(_check_size(value, "a value"))


def _sum(values: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
    if attribute is not None:
        raise TemplateError("sum(attribute=…) is not supported; use map(attribute=…) first")
    total = start
    for value in values:
        if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
            raise TemplateError(f"sum adds numbers only, got {type(value).__name__}")
        total += value
    return total


_KEPT_FILTERS = (
    "abs",
    "attr",
    "capitalize",
    "count",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "float",
    "forceescape",
    "groupby",
    "int",
    "items",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "sort",
    "striptags",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "wordcount",
)
_LOOP_FILTER = "_segmentum_loop"
_SIZE_FILTER = "_segmentum_size"


def _environment(autoescape: bool) -> _Sandbox:
    env = _Sandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        finalize=_finalize,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=0,
    )
    kept = {name: env.filters[name] for name in _KEPT_FILTERS}
    env.filters.clear()
    env.filters.update(kept)
    env.filters.update(
        {
            "default": _default,
            "d": _default,
            "money": _money,
            "date": _date,
            "datetime": _datetime,
            "number": _number,
            "join": _join,
            "replace": _replace,
            "string": _string,
            "sum": _sum,
            _LOOP_FILTER: _loop_guard,
            _SIZE_FILTER: _size_guard,
        }
    )
    env.globals.pop("lipsum", None)
    env.globals["range"] = _capped_range
    return env


_TEXT_ENV = _environment(autoescape=False)
_HTML_ENV = _environment(autoescape=True)
_GLOBAL_NAMES = frozenset(_TEXT_ENV.globals)


# --- compile --------------------------------------------------------------------------------


def _wrap(node: nodes.Node, name: str) -> nodes.Expr:
    wrapped = nodes.Filter(node, name, [], [], None, None)
    wrapped.set_lineno(node.lineno or 1)
    return wrapped


def _guard_tree(node: nodes.Node, part: str) -> None:
    """Wrap every loop iterable and every ``~`` operand and result in the guard filters."""
    if isinstance(node, nodes.For):
        if node.recursive:
            raise TemplateError("recursive loops are not supported", part=part, line=node.lineno)
        node.iter = _wrap(node.iter, _LOOP_FILTER)
    if isinstance(node, nodes.Concat):
        node.nodes = [_wrap(item, _SIZE_FILTER) for item in node.nodes]
    for name in node.fields:
        value = getattr(node, name, None)
        if isinstance(value, nodes.Node):
            _guard_tree(value, part)
            if isinstance(value, nodes.Concat):
                setattr(node, name, _wrap(value, _SIZE_FILTER))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, nodes.Node):
                    _guard_tree(item, part)
                    if isinstance(item, nodes.Concat):
                        value[index] = _wrap(item, _SIZE_FILTER)


def _paths(tree: nodes.Template, roots: frozenset[str]) -> set[str]:
    found: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if not (isinstance(target, nodes.Name) and target.ctx == "load" and target.name in roots):
            continue
        if isinstance(node, nodes.Getattr):
            found.add(f"{target.name}.{node.attr}")
        elif isinstance(node, nodes.Getitem):
            key = node.arg
            if isinstance(key, nodes.Const) and isinstance(key.value, str):
                found.add(f"{target.name}.{key.value}")
    return found


def _compile_part(
    env: _Sandbox, part: Part, source: str
) -> tuple[jinja2.Template, frozenset[str], set[str]]:
    try:
        tree = env.parse(source, name=part, filename=f"<{part}>")
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(
            f"syntax error: {error.message}", part=part, line=error.lineno
        ) from error
    try:
        roots = frozenset(find_undeclared_variables(tree)) - _GLOBAL_NAMES
        paths = _paths(tree, roots)
        _guard_tree(tree, part)
        code = env.compile(tree, name=part, filename=f"<{part}>")
        template = env.template_class.from_code(env, code, env.make_globals(None), None)
    except jinja2.TemplateSyntaxError as error:  # e.g. an unknown filter
        raise TemplateError(error.message or str(error), part=part, line=error.lineno) from error
    return template, roots, paths


def compile_template(
    template: MessageTemplate | str, limits: TemplateLimits | None = None
) -> CompiledTemplate:
    """Compile every part present; a syntax error or unknown filter is a `TemplateError`.

    A plain string is a body-only template.
    """
    if isinstance(template, str):
        template = MessageTemplate(body=template)
    compiled: dict[str, jinja2.Template] = {}
    fields: set[str] = set()
    paths: set[str] = set()
    for part in PARTS:
        source = getattr(template, part)
        if source is None:
            continue
        env = _HTML_ENV if part == "html" else _TEXT_ENV
        compiled[part], part_fields, part_paths = _compile_part(env, part, source)
        fields |= part_fields
        paths |= part_paths
    return CompiledTemplate(
        template=template,
        limits=limits or TemplateLimits(),
        parts=compiled,
        fields=frozenset(fields),
        paths=frozenset(paths),
    )


def check_fields(compiled: CompiledTemplate, available: Collection[str]) -> list[str]:
    """Fields the template reads that `available` lacks, sorted.

    `available` holds names (``first_name``) and, for nested values, dotted paths
    (``last_order.amount``); a name with dotted entries has its attributes checked too.
    """
    names = {item.split(".", 1)[0] for item in available}
    dotted = {item.split(".", 1)[0] for item in available if "." in item}
    missing = {name for name in compiled.fields if name not in names}
    missing |= {
        path for path in compiled.paths if path.split(".", 1)[0] in dotted and path not in available
    }
    return sorted(missing)


#: Fields of ``last_order`` and ``campaign`` that the service layer provides.
LAST_ORDER_FIELDS = ("order_id", "number", "date", "ordered_at", "amount", "currency", "products")
CAMPAIGN_FIELDS = ("id", "name", "channel")


def available_fields(settings: WorkspaceSettings | None = None) -> frozenset[str]:
    """Context names a campaign template may read: customer columns, custom attributes,
    ``last_order.*``, ``campaign.*`` and ``currency`` (the workspace currency)."""
    customer = set(CUSTOMERS.column_names)
    if settings is not None:
        customer |= set(settings.customer_attributes)
    return frozenset(
        customer
        | {"currency"}
        | {f"last_order.{name}" for name in LAST_ORDER_FIELDS}
        | {f"campaign.{name}" for name in CAMPAIGN_FIELDS}
    )


# --- render ---------------------------------------------------------------------------------


def _line(error: BaseException, part: str) -> int | None:
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == f"<{part}>":
            line = frame.lineno
    return line


def _render_part(template: jinja2.Template, part: Part, context: Mapping[str, Any]) -> str:
    budget = _budget()
    cap = budget.limits.max_bytes(part)
    chunks: list[str] = []
    size = 0
    try:
        for piece in template.generate(context):
            chunk = _text(piece, part == "html")
            size += len(chunk) if chunk.isascii() else len(chunk.encode("utf-8"))
            if size > cap:
                raise TemplateLimitError(f"output exceeds {cap} bytes")
            budget.tick()
            chunks.append(chunk)
    except TemplateError as error:
        raise error.located(part, _line(error, part)) from error
    except SecurityError as error:
        raise TemplateSecurityError(
            f"not allowed: {error}", part=part, line=_line(error, part)
        ) from error
    except jinja2.UndefinedError as error:
        raise TemplateError(
            f"undefined field: {error.message}", part=part, line=_line(error, part)
        ) from error
    except RecursionError as error:
        raise TemplateLimitError("recursion too deep", part=part) from error
    except (FormattingError, jinja2.TemplateError) as error:
        raise TemplateError(str(error), part=part, line=_line(error, part)) from error
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as error:
        raise TemplateError(
            f"{type(error).__name__}: {error}", part=part, line=_line(error, part)
        ) from error
    return "".join(chunks)


def render(
    compiled: CompiledTemplate, context: Mapping[str, Any], language: str | None = None
) -> RenderedMessage:
    """Render every part for one recipient; `language` picks the formatting locale."""
    timezone = context.get("timezone")
    rendered: dict[str, str] = {}
    for part, template in compiled.parts.items():
        budget = _Budget(
            limits=compiled.limits,
            deadline=time.monotonic() + compiled.limits.max_render_seconds,
            language=language,
            timezone=timezone if isinstance(timezone, str) else None,
        )
        token = _BUDGET.set(budget)
        try:
            rendered[part] = _render_part(template, part, context)  # type: ignore[arg-type]
        finally:
            _BUDGET.reset(token)
    subject = rendered.get("subject")
    if subject is not None:
        subject = " ".join(subject.split())  # one header line, whatever the template did
    return RenderedMessage(rendered.get("body", ""), subject, rendered.get("html"))


RENDERED_SCHEMA = pa.schema(
    [
        ("body", pa.string()),
        ("subject", pa.string()),
        ("html", pa.string()),
        ("error", pa.string()),
    ]
)


def render_batch(
    compiled: CompiledTemplate,
    rows: pa.Table,
    language_column: str = "language",
    context: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Render one message per row (columns become context fields, struct columns such as
    ``last_order`` become nested values); `context` adds shared values such as ``campaign``.

    Returns body, subject, html and error columns in row order; a row that fails has its error
    message and null parts, and the other rows render.
    """
    shared = dict(context or {})
    bodies: list[str | None] = []
    subjects: list[str | None] = []
    htmls: list[str | None] = []
    errors: list[str | None] = []
    has_language = language_column in rows.column_names
    for batch in rows.to_batches(max_chunksize=4096):
        for row in batch.to_pylist():
            values = shared | row
            language = row.get(language_column) if has_language else None
            try:
                message = render(compiled, values, language)
            except TemplateError as error:
                bodies.append(None)
                subjects.append(None)
                htmls.append(None)
                errors.append(str(error))
                continue
            bodies.append(message.body)
            subjects.append(message.subject)
            htmls.append(message.html)
            errors.append(None)
    return pa.table(
        [
            pa.array(bodies, pa.string()),
            pa.array(subjects, pa.string()),
            pa.array(htmls, pa.string()),
            pa.array(errors, pa.string()),
        ],
        schema=RENDERED_SCHEMA,
    )
