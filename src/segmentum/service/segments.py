"""Segment use cases: create, validate, preview, list, members, explain, SQL.

Every evaluation goes through the compiler's one-pass ``compile_segments`` over all the
definitions it needs (a preview of one definition still inlines the segments it references).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis
import yaml

from segmentum.compiler import (
    SemanticIssue,
    compile_explain,
    compile_segments,
    validate,
)
from segmentum.compiler.predictive import PREDICTIONS_TABLE
from segmentum.engine.capabilities import supports
from segmentum.service.clock import now_utc, resolve_as_of
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace
from segmentum.spec.describe import describe
from segmentum.spec.errors import SpecError
from segmentum.spec.external import from_external, to_external
from segmentum.spec.nodes import Node, SegmentRef, walk
from segmentum.spec.text import parse_text, to_text
from segmentum.store import segments as segment_store

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


@dataclass(frozen=True)
class Issue:
    code: str
    path: str
    message: str


class InvalidDefinitionError(ServiceError):
    """A definition has problems; ``issues`` lists every one with its code and path."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__(
            "; ".join(f"{issue.code} at {issue.path}: {issue.message}" for issue in issues)
        )


@dataclass(frozen=True)
class DefinitionSource:
    """What the user gave: a text expression or a YAML/JSON file (or already-parsed data)."""

    text: str | None = None
    file: Path | None = None
    data: Any = None


@dataclass(frozen=True)
class ParsedDefinition:
    node: Node
    description: str = ""
    #: The ``name:`` a YAML/JSON definition document gives itself (None when it has none).
    name: str | None = None


def parse_source(source: DefinitionSource) -> ParsedDefinition:
    """Text or YAML/JSON into a node; a file may hold ``{where, description}`` or a bare node."""
    try:
        if source.text is not None:
            return ParsedDefinition(parse_text(source.text))
        data = source.data
        if source.file is not None:
            try:
                data = yaml.safe_load(source.file.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as error:
                raise ServiceError(f"cannot read {source.file}: {error}") from error
        if data is None:
            raise ServiceError("give a definition: --where TEXT or --file FILE")
        if isinstance(data, dict) and "where" in data:
            unknown = set(data) - {"where", "description", "name"}
            if unknown:
                raise InvalidDefinitionError(
                    [Issue("SEG002", f"/{key}", f"unknown key {key!r}") for key in sorted(unknown)]
                )
            where = data["where"]
            description = str(data.get("description") or "")
            named = data.get("name")
            if named is not None and not isinstance(named, str):
                raise ServiceError(f"name: must be text, got {named!r}")
            node = parse_text(where) if isinstance(where, str) else from_external(where)
            return ParsedDefinition(node, description, named)
        return ParsedDefinition(from_external(data))
    except SpecError as error:
        raise InvalidDefinitionError(
            [Issue(issue.code, issue.path, issue.message) for issue in error.issues]
        ) from error


def stored_definitions(ws: Workspace) -> dict[str, Node]:
    return {
        stored.name: from_external(stored.definition)
        for stored in segment_store.list_segments(ws.store)
    }


def _check(ws: Workspace, definitions: Mapping[str, Node], focus: str) -> None:
    issues: list[SemanticIssue] = validate(
        definitions,
        ws.catalog,
        ws.settings,
        segment_store.manual_list_names(ws.store),
        # Fail closed at save time: a predictive segment needs stored predictions first.
        predictions=ws.engine.has_table(PREDICTIONS_TABLE),
    )
    relevant = [issue for issue in issues if getattr(issue, "segment", focus) in (focus, None)]
    problems = [Issue(issue.code, issue.path, issue.message) for issue in relevant]
    for node in walk(definitions[focus]):
        kind = type(node).__name__
        if not supports(ws.engine.kind, kind):
            problems.append(
                Issue("SEG201", "/", f"the {ws.engine.kind.value} engine cannot run {kind}")
            )
    if problems:
        raise InvalidDefinitionError(problems)


def _with_candidate(ws: Workspace, name: str, node: Node) -> dict[str, Node]:
    definitions = stored_definitions(ws)
    definitions[name] = node
    return definitions


def _needed(definitions: Mapping[str, Node], roots: list[str]) -> dict[str, Node]:
    """The roots and every definition they reference, transitively."""
    needed: dict[str, Node] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in needed or name not in definitions:
            continue
        needed[name] = definitions[name]
        pending.extend(
            node.segment for node in walk(definitions[name]) if isinstance(node, SegmentRef)
        )
    return needed


PREVIEW_NAME = "preview"


def validate_definition(ws: Workspace, source: DefinitionSource, name: str | None = None) -> Node:
    """Parse and check a definition against the catalog and the stored segments."""
    parsed = parse_source(source)
    focus = name or PREVIEW_NAME
    _check(ws, _with_candidate(ws, focus, parsed.node), focus)
    return parsed.node


def segment_name(given: str | None, parsed: ParsedDefinition, source: DefinitionSource) -> str:
    """The name to save under: the one given (CLI argument, URL) or the definition's own
    ``name:``. Both present and different is refused: saving under either would silently
    drop the other, and the YAML's name is what its author reads."""
    where = str(source.file) if source.file is not None else "the definition"
    if given is None:
        if parsed.name is not None:
            return parsed.name
        if source.file is not None:
            raise ServiceError(
                f"give the segment a name: segmentum segments create NAME --file {where}, "
                f"or a name: line in {where}"
            )
        raise ServiceError("give the segment a name: segmentum segments create NAME --where TEXT")
    if parsed.name is not None and parsed.name != given:
        raise ServiceError(
            f"two names for one segment: {given!r} given, name: {parsed.name} in {where}; "
            "give the same name, or leave NAME out to use the file's"
        )
    return given


def create_segment(
    ws: Workspace, name: str | None, source: DefinitionSource, description: str | None = None
) -> segment_store.StoredSegment:
    """Save a definition under ``name``, or under its own ``name:`` when ``name`` is None
    (`segment_name`); a changed definition gets a new version."""
    import re

    parsed = parse_source(source)
    name = segment_name(name, parsed, source)
    if not re.fullmatch(NAME_PATTERN, name):
        raise ServiceError(
            f"segment name {name!r} must be lowercase letters, digits and _ (start with a letter)"
        )
    _check(ws, _with_candidate(ws, name, parsed.node), name)
    if description is None:
        description = parsed.description
        existing = segment_store.get_segment(ws.store, name)
        if not description and existing is not None:  # re-saved without one: keep it
            description = existing.description
    return segment_store.save_segment(
        ws.store, name, to_external(parsed.node), description, now_utc()
    )


def get_definition(ws: Workspace, name: str) -> tuple[segment_store.StoredSegment, Node]:
    stored = segment_store.get_segment(ws.store, name)
    if stored is None:
        raise ServiceError(f"no segment named {name!r}")
    return stored, from_external(stored.definition)


def evaluate(ws: Workspace, definitions: Mapping[str, Node], as_of: datetime) -> ibis.Table:
    """One pass: customer_id plus one boolean column per definition."""
    return compile_segments(definitions, ws.catalog, ws.settings, ws.tables(), as_of)


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[str]
    sentence: str
    as_of: datetime


def preview(
    ws: Workspace, source: DefinitionSource, as_of: date | None = None, sample: int = 10
) -> Preview:
    parsed = parse_source(source)
    definitions = _with_candidate(ws, PREVIEW_NAME, parsed.node)
    _check(ws, definitions, PREVIEW_NAME)
    instant = resolve_as_of(as_of, ws.settings.timezone)
    result = evaluate(ws, _needed(definitions, [PREVIEW_NAME]), instant)
    members = result.filter(result[PREVIEW_NAME]).select("customer_id")
    count = int(members.count().to_pyarrow().as_py())
    ids = members.order_by("customer_id").limit(sample).to_pyarrow().column(0).to_pylist()
    return Preview(count, [str(cid) for cid in ids], describe(parsed.node), instant)


def list_segments(ws: Workspace, as_of: date | None = None) -> list[dict[str, Any]]:
    """Every segment with its version, size (evaluated in one pass) and sentence."""
    definitions = stored_definitions(ws)
    if not definitions:
        return []
    instant = resolve_as_of(as_of, ws.settings.timezone)
    result = evaluate(ws, definitions, instant)
    sizes_row = (
        result.aggregate([result[name].cast("int64").sum().name(name) for name in definitions])
        .to_pyarrow()
        .to_pylist()[0]
    )
    rows = []
    for stored in segment_store.list_segments(ws.store):
        rows.append(
            {
                "name": stored.name,
                "version": stored.version,
                "size": int(sizes_row[stored.name] or 0),
                "description": stored.description,
                "sentence": describe(definitions[stored.name]),
            }
        )
    return rows


def members(
    ws: Workspace, name: str, as_of: date | None = None, columns: tuple[str, ...] = ()
) -> ibis.Table:
    get_definition(ws, name)
    definitions = _needed(stored_definitions(ws), [name])
    instant = resolve_as_of(as_of, ws.settings.timezone)
    result = evaluate(ws, definitions, instant)
    ids = result.filter(result[name]).select("customer_id")
    if columns:
        unknown = [c for c in columns if c not in ws.catalog.table("customers").column_names]
        if unknown:
            raise ServiceError(f"unknown customer column(s): {', '.join(unknown)}")
        customers = ws.table("customers")
        ids = ids.join(customers, "customer_id").select("customer_id", *columns)
    return ids.order_by("customer_id")


def show_segment(ws: Workspace, name: str) -> dict[str, Any]:
    stored, node = get_definition(ws, name)
    return {
        "name": stored.name,
        "version": stored.version,
        "description": stored.description,
        "text": to_text(node),
        "sentence": describe(node),
        "definition": stored.definition,
    }


def explain(
    ws: Workspace, name: str, customer_id: str, as_of: date | None = None
) -> list[dict[str, Any]]:
    """Each condition's value for one customer."""
    _, node = get_definition(ws, name)
    definitions = _needed(stored_definitions(ws), [name])
    instant = resolve_as_of(as_of, ws.settings.timezone)
    customers = ws.table("customers")
    known = customers.filter(customers.customer_id == customer_id).count().to_pyarrow().as_py()
    if int(known) == 0:
        raise ServiceError(f"no customer with id {customer_id!r}")
    expr = compile_explain(
        node, definitions, ws.catalog, ws.settings, ws.tables(), instant, customer_id
    )
    rows = expr.to_pyarrow().to_pylist()
    if not rows:
        return []
    return [{"condition": key, "value": value} for key, value in rows[0].items()]


def segment_sql(ws: Workspace, name: str, dialect: str, as_of: date | None = None) -> str:
    """The SQL selecting the members as of the end of ``as_of`` (none: now)."""
    get_definition(ws, name)
    definitions = _needed(stored_definitions(ws), [name])
    instant = resolve_as_of(as_of, ws.settings.timezone)
    expr = evaluate(ws, definitions, instant)
    expr = expr.filter(expr[name]).select("customer_id")
    if dialect == "pyspark":
        importlib.import_module("ibis.backends.pyspark")  # registers the dialect for to_sql
    return str(ibis.to_sql(expr, dialect=dialect))


def delete_segment(ws: Workspace, name: str) -> None:
    """Delete a definition; refused while another definition uses it (``in_segment``), which
    would leave that one, and every refresh of the workspace, unable to compile."""
    users = sorted(
        other
        for other, node in stored_definitions(ws).items()
        if other != name
        and any(isinstance(each, SegmentRef) and each.segment == name for each in walk(node))
    )
    if users:
        raise ServiceError(
            f"segment {name!r} is used by {', '.join(repr(u) for u in users)}: change or "
            "delete those first"
        )
    if not segment_store.delete_segment(ws.store, name):
        raise ServiceError(f"no segment named {name!r}")


@dataclass(frozen=True)
class ListUpload:
    """A stored static list: its distinct ids, and those that name no customer (kept: the
    customer may be imported later; shown so that a wrong file is noticed)."""

    list_name: str
    customers: int
    unknown: int
    unknown_sample: tuple[str, ...]


#: Unknown ids shown by name.
UNKNOWN_SAMPLE = 5


def upload_manual_list(ws: Workspace, list_name: str, file: Path) -> ListUpload:
    """A static list: one customer_id per line (a CSV's first column; header optional)."""
    import csv

    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            rows = [row[0].strip() for row in csv.reader(handle) if row and row[0].strip()]
    except OSError as error:
        raise ServiceError(f"cannot read {file}: {error}") from error
    if rows and rows[0] == "customer_id":
        rows = rows[1:]
    return replace_manual_list(ws, list_name, rows)


def replace_manual_list(ws: Workspace, list_name: str, customer_ids: Iterable[str]) -> ListUpload:
    """A static list from the ids themselves (blank ids dropped, duplicates counted once)."""
    if not list_name.strip() or "\x00" in list_name:
        raise ServiceError("a list needs a name (without NUL characters)")
    ids = [cid.strip() for cid in customer_ids if cid.strip()]
    if any("\x00" in cid for cid in ids):
        raise ServiceError("customer ids must not contain NUL characters")
    stored = segment_store.replace_manual_list(ws.store, list_name, ids)
    unknown = _unknown_customers(ws, sorted(set(ids)))
    return ListUpload(list_name, stored, len(unknown), tuple(unknown[:UNKNOWN_SAMPLE]))


def _unknown_customers(ws: Workspace, ids: list[str]) -> list[str]:
    """The ``ids`` that name no customer, sorted (one anti-join in the engine)."""
    if not ids:
        return []
    wanted = ibis.memtable({"customer_id": ids})
    customers = ws.table("customers").select("customer_id")
    missing = wanted.anti_join(customers, "customer_id").order_by("customer_id")
    return [str(value) for value in missing.to_pyarrow().column("customer_id").to_pylist()]
