"""The external (YAML/JSON) form of segment nodes: reading with every problem reported, writing
in one canonical shape, and the fingerprint computed from that shape.

Each node is a mapping with a single key naming its kind (``all``, ``attribute``, ``lifecycle``,
...); a comparison is written as one operator key (``gte: 30``). The full shape is documented
in ``docs/segment-language.md``. Reading never stops at the first problem: every issue is
collected with a code and a JSON pointer and raised together as one ``SpecError``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import Any, TypeAlias, cast, get_args

import yaml
from pydantic import BaseModel, ValidationError

from segmentum.spec.errors import SpecError, SpecIssue, json_pointer
from segmentum.spec.nodes import (
    LIST_OPERATORS,
    METRICS,
    OPERATORS,
    RANGE_OPERATORS,
    UNARY_OPERATORS,
    Activity,
    Aggregate,
    AggregateFunction,
    AggregateMeasure,
    Ago,
    All,
    AnyOf,
    Attribute,
    Birthday,
    Bucket,
    Channel,
    Comparison,
    Dates,
    Derived,
    DerivedField,
    Duration,
    EachMonth,
    Ever,
    Filter,
    HasTag,
    ManualList,
    MessageReaction,
    Metric,
    MetricMeasure,
    Node,
    Not,
    Percentile,
    Reaction,
    Recency,
    RecencyWhich,
    Scalar,
    SegmentDefinition,
    SegmentRef,
    Sequence,
    SinceSignup,
    Subscription,
    Window,
    Within,
)

External: TypeAlias = dict[str, Any]
"""A node in external form: a JSON/YAML-compatible mapping with one key."""

FUNCTIONS: tuple[str, ...] = get_args(AggregateFunction)
CHANNELS: tuple[str, ...] = get_args(Channel)
REACTIONS: tuple[str, ...] = get_args(Reaction)
RECENCY_WHICH: tuple[str, ...] = get_args(RecencyWhich)
DERIVED_FIELDS: tuple[str, ...] = get_args(DerivedField)
WINDOW_KEYS: tuple[str, ...] = ("within", "ago", "dates", "since_signup", "each_month")
ACTIVITY_KEYS: tuple[str, ...] = ("of", "where", *WINDOW_KEYS)
DIRECTIONS: tuple[str, ...] = ("top", "bottom")
NODE_KINDS: tuple[str, ...] = (
    "all",
    "any",
    "not",
    "attribute",
    *DERIVED_FIELDS,
    "birthday",
    "has_tag",
    "aggregate",
    "sequence",
    "recency",
    *METRICS,
    "percentile",
    "subscription",
    "message",
    "segment",
    "bucket",
    "manual_list",
)
"""Every key that names a node kind in the external form."""

_DURATION = re.compile(r"^(\d+)([hdwm])$")
_MAX_EACH_MONTH = 24
_MAX_BIRTHDAY_DAYS = 366
_DEFINITION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

MAX_NESTING = 100
"""How many ``all``/``any``/``not`` may enclose one another. Checked before any recursive
reading (Python's recursion limit would otherwise end a deep document with a crash);
``docs/segment-language.md`` documents it with ``SEG010``."""
COMBINATORS: tuple[str, ...] = ("all", "any", "not")


def nesting_issue(path: str) -> SpecIssue:
    """The ``SEG010`` issue for the combinator at ``path`` that opens level ``MAX_NESTING + 1``."""
    return SpecIssue(
        "SEG010",
        path,
        f"the condition is nested deeper than {MAX_NESTING} levels "
        "(all, any and not inside one another)",
    )


def first_too_deep(
    root: Any, path: str, combinator: Callable[[Any], tuple[str, list[Any]] | None]
) -> SpecIssue | None:
    """The ``SEG010`` issue of the first combinator (in document order) enclosed by
    ``MAX_NESTING`` others, found without recursion; None within the limit. ``combinator``
    says what an item is: ``(kind, children)`` for ``all``/``any``/``not``, else None (the
    external form's mappings here, the text syntax's parse tree in ``spec.text``)."""
    stack: list[tuple[Any, str, int]] = [(root, path, 0)]
    while stack:
        item, here, depth = stack.pop()
        found = combinator(item)
        if found is None:
            continue
        kind, children = found
        if depth == MAX_NESTING:
            return nesting_issue(here)
        inner = json_pointer(here, kind)
        if kind == "not":
            stack.extend((child, inner, depth + 1) for child in children)
        else:
            indexed = enumerate(children)
            stack.extend(reversed([(c, json_pointer(inner, i), depth + 1) for i, c in indexed]))
    return None


def _external_combinator(item: Any) -> tuple[str, list[Any]] | None:
    if not isinstance(item, Mapping) or len(item) != 1:
        return None
    ((kind, body),) = item.items()
    if kind not in COMBINATORS:
        return None
    if kind == "not":
        return str(kind), [body]
    return str(kind), list(body) if isinstance(body, list | tuple) else []


def _too_deep(data: Any, path: str = "") -> SpecIssue | None:
    return first_too_deep(data, path, _external_combinator)


# --- reading ---------------------------------------------------------------------------------


class _Reader:
    """Collects issues while converting one document; a part that cannot be built is None."""

    def __init__(self) -> None:
        self.issues: list[SpecIssue] = []

    def issue(self, code: str, path: str, message: str) -> None:
        self.issues.append(SpecIssue(code, path, message))

    # -- nodes --

    def node(self, data: Any, path: str) -> Node | None:
        if not isinstance(data, Mapping) or len(data) != 1:
            if isinstance(data, Mapping) and len(data) > 1:
                keys = ", ".join(str(k) for k in data)
                self.issue("SEG004", path, f"a node has exactly one key, got {len(data)}: {keys}")
            else:
                self.issue(
                    "SEG004",
                    path,
                    f"expected a mapping with one node key, got {_describe_type(data)}",
                )
            return None
        ((kind, body),) = data.items()
        if not isinstance(kind, str) or kind not in _NODE_READERS:
            hint = did_you_mean(kind, NODE_KINDS)
            self.issue("SEG001", path, f"unknown node kind {kind!r}{hint}")
            return None
        reader = _NODE_READERS[kind]
        return reader(self, kind, body, json_pointer(path, kind))

    def combinator(self, kind: str, body: Any, path: str) -> Node | None:
        if not isinstance(body, list | tuple):
            self.issue("SEG004", path, f"{kind} takes a list of nodes, got {_describe_type(body)}")
            return None
        if not body:
            self.issue("SEG007", path, f"{kind} needs at least one node")
            return None
        items = [self.node(item, json_pointer(path, i)) for i, item in enumerate(body)]
        if not _all_built(items):
            return None
        nodes = tuple(cast(list[Node], items))
        return All(items=nodes) if kind == "all" else AnyOf(items=nodes)

    def not_(self, kind: str, body: Any, path: str) -> Node | None:
        item = self.node(body, path)
        return None if item is None else Not(item=item)

    def attribute(self, kind: str, body: Any, path: str) -> Node | None:
        m = self.mapping(body, path, required=("field",), comparison=True)
        if m is None:
            return None
        field = self.name(m.get("field"), json_pointer(path, "field")) if "field" in m else None
        comparison = self.comparison(m, path)
        if field is None or comparison is None:
            return None
        return self.build(path, Attribute, field=field, comparison=comparison)

    def derived(self, kind: str, body: Any, path: str) -> Node | None:
        m = self.mapping(body, path, comparison=True)
        comparison = None if m is None else self.comparison(m, path)
        if comparison is None:
            return None
        return self.build(path, Derived, field=kind, comparison=comparison)

    def birthday(self, kind: str, body: Any, path: str) -> Node | None:
        m = self.mapping(body, path, required=("within_days",))
        if m is None or "within_days" not in m:
            return None
        days = self.integer(
            m["within_days"], json_pointer(path, "within_days"), 0, _MAX_BIRTHDAY_DAYS
        )
        return None if days is None else self.build(path, Birthday, within_days=days)

    def has_tag(self, kind: str, body: Any, path: str) -> Node | None:
        tag = self.name(body, path)
        return None if tag is None else self.build(path, HasTag, tag=tag)

    def aggregate(self, kind: str, body: Any, path: str) -> Node | None:
        m = self.mapping(
            body, path, required=("of",), optional=("fn", "field", *ACTIVITY_KEYS), comparison=True
        )
        if m is None:
            return None
        activity = self.activity(m, path)
        measure = self.function_and_field(m, path)
        comparison = self.comparison(m, path)
        if activity is None or measure is None or comparison is None:
            return None
        function, field = measure
        return self.build(
            path,
            Aggregate,
            activity=activity,
            function=function,
            field=field,
            comparison=comparison,
        )

    def sequence(self, kind: str, body: Any, path: str) -> Node | None:
        m = self.mapping(
            body, path, required=("first", "then"), optional=("followed", "within", "match")
        )
        if m is None:
            return None
        ok = True
        first = then = None
        for key in ("first", "then"):
            if key not in m:
                ok = False
                continue
            sub_path = json_pointer(path, key)
            sub = self.mapping(m[key], sub_path, required=("of",), optional=ACTIVITY_KEYS[1:])
            activity = None if sub is None else self.activity(sub, sub_path)
            if key == "first":
                first = activity
            else:
                then = activity
        followed = m.get("followed", False)
        if not isinstance(followed, bool):
            self.issue(
                "SEG004",
                json_pointer(path, "followed"),
                f"followed takes true or false, got {_describe_type(followed)}",
            )
            ok = False
        within: Duration | None = None
        if "within" in m:
            within = self.duration(m["within"], json_pointer(path, "within"))
            ok = ok and within is not None
        match = self.match(m.get("match", {}), json_pointer(path, "match"))
        if not ok or first is None or then is None or match is None:
            return None
        return self.build(
            path, Sequence, first=first, then=then, followed=followed, within=within, match=match
        )

    def recency(self, kind: str, body: Any, path: str) -> Node | None:
        m = self.mapping(
            body, path, required=("of",), optional=("which", *ACTIVITY_KEYS), comparison=True
        )
        if m is None:
            return None
        activity = self.activity(m, path)
        which = self.choice(m.get("which", "last"), RECENCY_WHICH, json_pointer(path, "which"))
        comparison = self.comparison(m, path)
        if activity is None or which is None or comparison is None:
            return None
        return self.build(path, Recency, activity=activity, which=which, comparison=comparison)

    def metric(self, kind: str, body: Any, path: str) -> Node | None:
        optional = ("preset",) if kind == "rfm_group" else ()
        m = self.mapping(body, path, optional=optional, comparison=True)
        if m is None:
            return None
        preset = None
        ok = True
        if "preset" in m:
            preset = self.name(m["preset"], json_pointer(path, "preset"))
            ok = preset is not None
        comparison = self.comparison(m, path)
        if not ok or comparison is None:
            return None
        return self.build(path, Metric, name=kind, comparison=comparison, preset=preset)

    def percentile(self, kind: str, body: Any, path: str) -> Node | None:
        m = self.mapping(
            body, path, optional=("metric", "fn", "field", *ACTIVITY_KEYS, *DIRECTIONS)
        )
        if m is None:
            return None
        measure: MetricMeasure | AggregateMeasure | None = None
        if "metric" in m and "of" in m:
            self.issue("SEG004", path, "a percentile ranks by either a metric or an activity (of)")
        elif "metric" in m:
            extra = [k for k in m if k in ("fn", "field", *ACTIVITY_KEYS)]
            for key in extra:
                self.issue(
                    "SEG002",
                    path,
                    f"unknown key {key!r} with metric (expected metric, top or bottom)",
                )
            metric = self.name(m["metric"], json_pointer(path, "metric"))
            if metric is not None and not extra:
                measure = MetricMeasure(metric=metric)
        elif "of" in m:
            activity = self.activity(m, path)
            fn_field = self.function_and_field(m, path)
            if activity is not None and fn_field is not None:
                measure = AggregateMeasure(
                    activity=activity, function=fn_field[0], field=fn_field[1]
                )
        else:
            self.issue("SEG003", path, "missing key 'metric' or 'of' (what to rank by)")
        directions = [k for k in DIRECTIONS if k in m]
        if len(directions) != 1:
            self.issue("SEG005", path, "a percentile takes exactly one of top or bottom")
            return None
        (direction,) = directions
        percent = self.percent(m[direction], json_pointer(path, direction))
        if measure is None or percent is None:
            return None
        return self.build(path, Percentile, measure=measure, direction=direction, percent=percent)

    def subscription(self, kind: str, body: Any, path: str) -> Node | None:
        if isinstance(body, Mapping):
            m = self.mapping(body, path, required=("channel",))
            if m is None or "channel" not in m:
                return None
            body, path = m["channel"], json_pointer(path, "channel")
        channel = self.choice(body, CHANNELS, path)
        return None if channel is None else self.build(path, Subscription, channel=channel)

    def message(self, kind: str, body: Any, path: str) -> Node | None:
        m = self.mapping(
            body,
            path,
            required=("reaction",),
            optional=("campaign", "channel", "conversion_days", *WINDOW_KEYS),
        )
        if m is None:
            return None
        ok = "reaction" in m
        reaction = None
        if ok:
            reaction = self.choice(m["reaction"], REACTIONS, json_pointer(path, "reaction"))
        campaign = channel = conversion_days = None
        if "campaign" in m:
            campaign = self.name(m["campaign"], json_pointer(path, "campaign"))
            ok = ok and campaign is not None
        if "channel" in m:
            channel = self.choice(m["channel"], CHANNELS, json_pointer(path, "channel"))
            ok = ok and channel is not None
        if "conversion_days" in m:
            conversion_days = self.integer(
                m["conversion_days"], json_pointer(path, "conversion_days"), 0, None
            )
            ok = ok and conversion_days is not None
        window = self.window(m, path)
        if not ok or reaction is None or window is None:
            return None
        return self.build(
            path,
            MessageReaction,
            reaction=reaction,
            campaign=campaign,
            channel=channel,
            window=window,
            conversion_days=conversion_days,
        )

    def segment(self, kind: str, body: Any, path: str) -> Node | None:
        name = self.name(body, path)
        return None if name is None else self.build(path, SegmentRef, segment=name)

    def bucket(self, kind: str, body: Any, path: str) -> Node | None:
        m = self.mapping(body, path, required=("seed", "modulo"), comparison=True)
        if m is None:
            return None
        seed = modulo = None
        if "seed" in m:
            seed = self.name(m["seed"], json_pointer(path, "seed"))
        if "modulo" in m:
            modulo = self.integer(m["modulo"], json_pointer(path, "modulo"), 1, None)
        comparison = self.comparison(m, path)
        if seed is None or modulo is None or comparison is None:
            return None
        return self.build(path, Bucket, seed=seed, modulo=modulo, comparison=comparison)

    def manual_list(self, kind: str, body: Any, path: str) -> Node | None:
        name = self.name(body, path)
        return None if name is None else self.build(path, ManualList, list_name=name)

    # -- parts --

    def mapping(
        self,
        body: Any,
        path: str,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
        comparison: bool = False,
    ) -> dict[str, Any] | None:
        """``body`` as a dict after reporting unknown (SEG002) and missing (SEG003) keys."""
        if not isinstance(body, Mapping):
            self.issue("SEG004", path, f"expected a mapping, got {_describe_type(body)}")
            return None
        known = (*required, *optional)
        allowed = (*known, *OPERATORS) if comparison else known
        for key in body:
            if key not in allowed:
                expected = ", ".join(known)
                if comparison:
                    expected += " or " if expected else ""
                    expected += "a comparison operator: " + ", ".join(OPERATORS)
                self.issue(
                    "SEG002",
                    path,
                    f"unknown key {key!r}{did_you_mean(key, allowed)} (expected {expected})",
                )
        for key in required:
            if key not in body:
                self.issue("SEG003", path, f"missing key {key!r}")
        return {str(k): v for k, v in body.items()}

    def comparison(self, m: dict[str, Any], path: str) -> Comparison | None:
        ops = [k for k in m if k in OPERATORS]
        if len(ops) != 1:
            if ops:
                message = "several comparison operators: " + ", ".join(ops)
            else:
                message = "missing comparison operator (one of " + ", ".join(OPERATORS) + ")"
            self.issue("SEG005", path, message)
            return None
        (op,) = ops
        raw = m[op]
        op_path = json_pointer(path, op)
        value: Scalar | tuple[Scalar, ...] | None
        if op in UNARY_OPERATORS:
            if raw is not True:
                self.issue("SEG004", op_path, f"{op} takes true, got {_describe_type(raw)}")
                return None
            value = None
        elif op in LIST_OPERATORS or op in RANGE_OPERATORS:
            if not isinstance(raw, list | tuple):
                self.issue("SEG004", op_path, f"{op} takes a list, got {_describe_type(raw)}")
                return None
            if op in RANGE_OPERATORS and len(raw) != 2:
                self.issue("SEG004", op_path, f"between takes [low, high], got {len(raw)} values")
                return None
            if not raw:
                self.issue("SEG004", op_path, f"{op} needs at least one value")
                return None
            values = [self.scalar(v, json_pointer(op_path, i)) for i, v in enumerate(raw)]
            if not _all_built(values):
                return None
            value = tuple(cast(list[Scalar], values))
        else:
            scalar = self.scalar(raw, op_path)
            if scalar is None:
                return None
            value = scalar
        return Comparison(op=op, value=value)

    def scalar(self, raw: Any, path: str) -> Scalar | None:
        if isinstance(raw, bool | int | str):
            return raw
        if isinstance(raw, float):
            if math.isfinite(raw):
                return raw
            self.issue("SEG004", path, f"expected a finite number, got {raw}")
            return None
        if isinstance(raw, date):  # YAML dates and timestamps become ISO strings
            return raw.isoformat()
        self.issue(
            "SEG004", path, f"expected a string, number or boolean, got {_describe_type(raw)}"
        )
        return None

    def name(self, raw: Any, path: str) -> str | None:
        if isinstance(raw, str) and raw:
            return raw
        self.issue("SEG004", path, f"expected a non-empty string, got {_describe_type(raw)}")
        return None

    def choice(self, raw: Any, allowed: tuple[str, ...], path: str) -> str | None:
        if not isinstance(raw, str):
            self.issue("SEG004", path, f"expected a string, got {_describe_type(raw)}")
            return None
        if raw not in allowed:
            self.issue(
                "SEG008",
                path,
                f"{raw!r} is not allowed{did_you_mean(raw, allowed)} "
                f"(expected {', '.join(allowed)})",
            )
            return None
        return raw

    def integer(self, raw: Any, path: str, low: int, high: int | None) -> int | None:
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.issue("SEG004", path, f"expected a whole number, got {_describe_type(raw)}")
            return None
        if raw < low or (high is not None and raw > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            self.issue("SEG008", path, f"{raw} is out of range (expected {bound})")
            return None
        return raw

    def percent(self, raw: Any, path: str) -> float | None:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            self.issue("SEG004", path, f"expected a percentage, got {_describe_type(raw)}")
            return None
        if not 0 < raw <= 100:
            self.issue("SEG008", path, f"{raw} is out of range (expected more than 0, up to 100)")
            return None
        return float(raw)

    def duration(self, raw: Any, path: str) -> Duration | None:
        match = _DURATION.match(raw) if isinstance(raw, str) else None
        if match is None:
            self.issue(
                "SEG006",
                path,
                f"bad duration {raw!r} (expected a whole number and a unit h, d, w or m, "
                "like 24h, 30d, 4w, 6m)",
            )
            return None
        return Duration(amount=int(match.group(1)), unit=match.group(2))

    def window(self, m: dict[str, Any], path: str) -> Window | None:
        keys = [k for k in WINDOW_KEYS if k in m]
        if not keys:
            return Ever()
        if len(keys) > 1:
            self.issue("SEG006", path, "several windows: " + ", ".join(keys) + " (at most one)")
            return None
        (key,) = keys
        raw = m[key]
        key_path = json_pointer(path, key)
        if key == "within":
            duration = self.duration(raw, key_path)
            return None if duration is None else Within(duration=duration)
        if key == "ago":
            return self.ago(raw, key_path)
        if key == "dates":
            return self.dates(raw, key_path)
        if key == "since_signup":
            if raw is not True:
                self.issue("SEG006", key_path, f"since_signup takes true, got {raw!r}")
                return None
            return SinceSignup()
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= _MAX_EACH_MONTH:
            self.issue(
                "SEG006", key_path, f"each_month takes a number of months 1 to 24, got {raw!r}"
            )
            return None
        return EachMonth(months=raw)

    def ago(self, raw: Any, path: str) -> Window | None:
        if isinstance(raw, str):  # a single bound: at least this long ago
            newest_only = self.duration(raw, path)
            return None if newest_only is None else Ago(newest=newest_only)
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            self.issue(
                "SEG006",
                path,
                f"ago takes [newest, oldest] like [24h, 7d] or one duration, got {raw!r}",
            )
            return None
        newest = self.duration(raw[0], json_pointer(path, 0))
        oldest = self.duration(raw[1], json_pointer(path, 1))
        if newest is None or oldest is None:
            return None
        if newest.unit == oldest.unit and newest.amount > oldest.amount:
            self.issue("SEG006", path, f"ago: newest {newest} is older than oldest {oldest}")
            return None
        return Ago(newest=newest, oldest=oldest)

    def dates(self, raw: Any, path: str) -> Window | None:
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            self.issue(
                "SEG006",
                path,
                f"dates takes [start, end] like [2024-01-01, 2024-03-31], got {raw!r}",
            )
            return None
        bounds = [self.day(v, json_pointer(path, i)) for i, v in enumerate(raw)]
        start, end = bounds
        if start is None or end is None:
            return None
        if start > end:
            self.issue("SEG006", path, f"dates: start {start} is after end {end}")
            return None
        return Dates(start=start, end=end)

    def day(self, raw: Any, path: str) -> date | None:
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        self.issue("SEG006", path, f"expected a date like 2024-01-31, got {raw!r}")
        return None

    def filters(self, raw: Any, path: str) -> tuple[Filter, ...] | None:
        if not isinstance(raw, list | tuple):
            self.issue("SEG004", path, f"where takes a list of filters, got {_describe_type(raw)}")
            return None
        out: list[Filter | None] = []
        for i, item in enumerate(raw):
            item_path = json_pointer(path, i)
            m = self.mapping(item, item_path, required=("field",), comparison=True)
            if m is None:
                out.append(None)
                continue
            field = (
                self.name(m["field"], json_pointer(item_path, "field")) if "field" in m else None
            )
            comparison = self.comparison(m, item_path)
            built = None
            if field is not None and comparison is not None:
                built = Filter(field=field, comparison=comparison)
            out.append(built)
        if not _all_built(out):
            return None
        return tuple(cast(list[Filter], out))

    def activity(self, m: dict[str, Any], path: str) -> Activity | None:
        source = self.name(m["of"], json_pointer(path, "of")) if "of" in m else None
        filters: tuple[Filter, ...] | None = ()
        if "where" in m:
            filters = self.filters(m["where"], json_pointer(path, "where"))
        window = self.window(m, path)
        if source is None or filters is None or window is None:
            return None
        return Activity(source=source, filters=filters, window=window)

    def function_and_field(
        self, m: dict[str, Any], path: str
    ) -> tuple[AggregateFunction, str | None] | None:
        function = self.choice(m.get("fn", "count"), FUNCTIONS, json_pointer(path, "fn"))
        field = None
        if "field" in m:
            field = self.name(m["field"], json_pointer(path, "field"))
            if field is None:
                return None
        elif function is not None and function != "count":
            self.issue("SEG003", path, f"missing key 'field' (fn {function} needs a field)")
            return None
        if function is None:
            return None
        return cast(AggregateFunction, function), field

    def match(self, raw: Any, path: str) -> tuple[tuple[str, str], ...] | None:
        pairs: list[Any]
        if isinstance(raw, Mapping):
            pairs = list(raw.items())
        elif isinstance(raw, list | tuple):
            pairs = list(raw)
        else:
            pairs = [None]
        out: list[tuple[str, str]] = []
        ok = True
        for i, pair in enumerate(pairs):
            if (
                isinstance(pair, list | tuple)
                and len(pair) == 2
                and all(isinstance(p, str) and p for p in pair)
            ):
                out.append((pair[0], pair[1]))
            else:
                where = path if isinstance(raw, Mapping) or pair is None else json_pointer(path, i)
                self.issue(
                    "SEG004",
                    where,
                    "match takes {first_field: then_field} or [[first_field, then_field], ...]",
                )
                ok = False
        return tuple(out) if ok else None

    def build(self, path: str, cls: type[BaseModel], **fields: Any) -> Node | None:
        """Construct a node; a constraint the checks above missed is still a reported issue."""
        try:
            return cast(Node, cls(**fields))
        except ValidationError as exc:  # pragma: no cover - every constraint is checked above
            for error in exc.errors():
                self.issue("SEG004", path, str(error["msg"]))
            return None


def _all_built(items: list[Any]) -> bool:
    return all(item is not None for item in items)


def _describe_type(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {value!r}".lower()
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def did_you_mean(word: Any, choices: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``word``, or nothing."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_NodeReader = Callable[[_Reader, str, Any, str], Node | None]
_NODE_READERS: dict[str, _NodeReader] = {
    "all": _Reader.combinator,
    "any": _Reader.combinator,
    "not": _Reader.not_,
    "attribute": _Reader.attribute,
    **dict.fromkeys(DERIVED_FIELDS, _Reader.derived),
    "birthday": _Reader.birthday,
    "has_tag": _Reader.has_tag,
    "aggregate": _Reader.aggregate,
    "sequence": _Reader.sequence,
    "recency": _Reader.recency,
    **dict.fromkeys(METRICS, _Reader.metric),
    "percentile": _Reader.percentile,
    "subscription": _Reader.subscription,
    "message": _Reader.message,
    "segment": _Reader.segment,
    "bucket": _Reader.bucket,
    "manual_list": _Reader.manual_list,
}


def _nul_issues(data: Any, path: str, reader: _Reader) -> None:
    """NUL characters never reach an engine: SQL text literals cannot carry them (an Ibis
    literal with one breaks the query on DuckDB), so a definition holding one is refused.
    Walks with a stack, in document order, so no nesting depth can exhaust the recursion."""
    stack: list[tuple[Any, str]] = [(data, path)]
    while stack:
        item, here = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                reader.issue("SEG008", here, "text values cannot contain NUL characters")
        elif isinstance(item, Mapping):
            pending: list[tuple[Any, str]] = []
            for key, value in item.items():
                pending.append((key, here))
                pending.append((value, json_pointer(here, str(key))))
            stack.extend(reversed(pending))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(v, json_pointer(here, i)) for i, v in enumerate(item)]))


def from_external(data: Any) -> Node:
    """The node described by ``data`` (parsed YAML/JSON); raises ``SpecError`` listing every
    problem found (only ``SEG010`` when the nesting is deeper than ``MAX_NESTING``)."""
    deep = _too_deep(data)
    if deep is not None:
        raise SpecError([deep])
    reader = _Reader()
    _nul_issues(data, "", reader)
    node = reader.node(data, "")
    if reader.issues or node is None:
        raise SpecError(reader.issues)
    return node


def definition_from_external(data: Any) -> SegmentDefinition:
    """A ``SegmentDefinition`` from ``{name, description, where}``. ``where`` is a node
    mapping or a string in the text syntax."""
    reader = _Reader()
    m = reader.mapping(data, "", required=("name", "where"), optional=("description",))
    if m is None:
        raise SpecError(reader.issues)
    name = None
    if "name" in m:
        name = reader.name(m["name"], "/name")
        if name is not None and not _DEFINITION_NAME.match(name):
            reader.issue(
                "SEG008",
                "/name",
                f"bad segment name {name!r} (lower-case letters, digits and _, "
                "starting with a letter, at most 63)",
            )
            name = None
    description = m.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        reader.issue(
            "SEG004", "/description", f"expected a string, got {_describe_type(description)}"
        )
    where: Node | None = None
    if "where" in m:
        if isinstance(m["where"], str):
            from segmentum.spec.text import parse_text  # text builds on this module

            try:
                where = parse_text(m["where"])
            except SpecError as exc:
                reader.issues.extend(exc.under("/where").issues)
        elif (deep := _too_deep(m["where"], "/where")) is not None:
            reader.issues.append(deep)
        else:
            where = reader.node(m["where"], "/where")
    if reader.issues or name is None or where is None:
        raise SpecError(reader.issues)
    return SegmentDefinition(name=name, description=description, where=where)


def load_yaml(text: str) -> Node | SegmentDefinition:
    """A node or, when the document has ``name``/``where`` keys, a definition, from YAML or
    JSON text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue("SEG009", "", f"{where}{problem}")]) from exc
    if isinstance(data, Mapping) and ("where" in data or "name" in data):
        return definition_from_external(data)
    return from_external(data)


# --- writing ---------------------------------------------------------------------------------


def to_external(node: Node) -> External:
    """The canonical external form: JSON/YAML-compatible, ``from_external`` reads it back to
    an equal node. Defaults are written out (``fn``, ``which``, ``followed``), empty parts
    (no window, no filters, no match) are left out."""
    writer = _WRITERS.get(type(node))
    if writer is None:  # pragma: no cover - every node type has a writer
        raise TypeError(f"not a segment node: {node!r}")
    return writer(node)


def definition_to_external(definition: SegmentDefinition) -> External:
    out: External = {"name": definition.name}
    if definition.description:
        out["description"] = definition.description
    out["where"] = to_external(definition.where)
    return out


def dump_yaml(value: Node | SegmentDefinition) -> str:
    """The external form as block YAML (Unicode kept, keys in canonical order)."""
    data = (
        definition_to_external(value)
        if isinstance(value, SegmentDefinition)
        else (to_external(value))
    )
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def canonical_json(data: Any) -> str:
    """Sorted keys, no spaces, Unicode kept: equal documents, equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(value: Node | SegmentDefinition | Any) -> str:
    """sha256 (hex) of the canonical JSON of the external form: equal trees, equal
    fingerprints, and different node kinds never collide. Plain JSON data is hashed as is."""
    if isinstance(value, SegmentDefinition):
        data: Any = definition_to_external(value)
    elif isinstance(value, BaseModel):
        data = to_external(cast(Node, value))
    else:
        data = value
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def _comparison_out(comparison: Comparison) -> External:
    value = comparison.value
    if comparison.op in UNARY_OPERATORS:
        return {comparison.op: True}
    if isinstance(value, tuple):
        return {comparison.op: list(value)}
    return {comparison.op: value}


def _window_out(window: Window) -> External:
    if isinstance(window, Within):
        return {"within": str(window.duration)}
    if isinstance(window, Ago):
        if window.oldest is None:
            return {"ago": str(window.newest)}
        return {"ago": [str(window.newest), str(window.oldest)]}
    if isinstance(window, Dates):
        return {"dates": [window.start.isoformat(), window.end.isoformat()]}
    if isinstance(window, SinceSignup):
        return {"since_signup": True}
    if isinstance(window, EachMonth):
        return {"each_month": window.months}
    return {}


def _filter_out(item: Filter) -> External:
    return {"field": item.field, **_comparison_out(item.comparison)}


def _activity_out(activity: Activity) -> External:
    out: External = {"of": activity.source, **_window_out(activity.window)}
    if activity.filters:
        out["where"] = [_filter_out(f) for f in activity.filters]
    return out


def _measure_out(activity: Activity, function: str, field: str | None) -> External:
    out: External = {"of": activity.source, "fn": function}
    if field is not None:
        out["field"] = field
    out.update(_activity_out(activity))
    return out


def _percent_out(percent: float) -> int | float:
    return int(percent) if float(percent).is_integer() else percent


def _match_out(match: tuple[tuple[str, str], ...]) -> Any:
    # A mapping only when sorting its keys (as YAML and JSON writers may) changes nothing.
    firsts = [first for first, _ in match]
    if firsts == sorted(set(firsts)):
        return dict(match)
    return [list(pair) for pair in match]


def _sequence_out(node: Sequence) -> External:
    out: External = {
        "first": _activity_out(node.first),
        "then": _activity_out(node.then),
        "followed": node.followed,
    }
    if node.within is not None:
        out["within"] = str(node.within)
    if node.match:
        out["match"] = _match_out(node.match)
    return {"sequence": out}


def _percentile_out(node: Percentile) -> External:
    measure = node.measure
    if isinstance(measure, MetricMeasure):
        out: External = {"metric": measure.metric}
    else:
        out = _measure_out(measure.activity, measure.function, measure.field)
    out[node.direction] = _percent_out(node.percent)
    return {"percentile": out}


def _message_out(node: MessageReaction) -> External:
    out: External = {"reaction": node.reaction}
    if node.campaign is not None:
        out["campaign"] = node.campaign
    if node.channel is not None:
        out["channel"] = node.channel
    out.update(_window_out(node.window))
    if node.conversion_days is not None:
        out["conversion_days"] = node.conversion_days
    return {"message": out}


def _metric_out(node: Metric) -> External:
    out: External = {}
    if node.preset is not None:
        out["preset"] = node.preset
    out.update(_comparison_out(node.comparison))
    return {node.name: out}


def _aggregate_out(node: Aggregate) -> External:
    out = _measure_out(node.activity, node.function, node.field)
    out.update(_comparison_out(node.comparison))
    return {"aggregate": out}


def _recency_out(node: Recency) -> External:
    out = {"of": node.activity.source, "which": node.which, **_activity_out(node.activity)}
    out.update(_comparison_out(node.comparison))
    return {"recency": out}


_WRITERS: dict[type[BaseModel], Callable[[Any], External]] = {
    All: lambda n: {"all": [to_external(i) for i in n.items]},
    AnyOf: lambda n: {"any": [to_external(i) for i in n.items]},
    Not: lambda n: {"not": to_external(n.item)},
    Attribute: lambda n: {"attribute": {"field": n.field, **_comparison_out(n.comparison)}},
    Derived: lambda n: {n.field: _comparison_out(n.comparison)},
    Birthday: lambda n: {"birthday": {"within_days": n.within_days}},
    HasTag: lambda n: {"has_tag": n.tag},
    Aggregate: _aggregate_out,
    Sequence: _sequence_out,
    Recency: _recency_out,
    Metric: _metric_out,
    Percentile: _percentile_out,
    Subscription: lambda n: {"subscription": n.channel},
    MessageReaction: _message_out,
    SegmentRef: lambda n: {"segment": n.segment},
    Bucket: lambda n: {
        "bucket": {"seed": n.seed, "modulo": n.modulo, **_comparison_out(n.comparison)}
    },
    ManualList: lambda n: {"manual_list": n.list_name},
}
