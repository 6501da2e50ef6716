"""Semantic validation: every problem of every definition, each with a code and a pointer.

Nothing is compiled while an issue remains (fail closed): ``compile_segments`` calls this and
refuses. Pointers follow :mod:`segmentum.compiler.paths`, relative to the segment's ``where``
tree; the issue's ``segment`` names the definition.
"""

# ruff: noqa: N802  (visit_<Node> names follow the node classes)
from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.types import ValueType
from segmentum.compiler.comparisons import comparison_issues
from segmentum.compiler.errors import SemanticIssue
from segmentum.compiler.lifecycle import STAGES
from segmentum.compiler.paths import nodes_with_pointers
from segmentum.compiler.predictive import PREDICTIONS_TABLE, PREDICTIVE_TYPES
from segmentum.compiler.rfm import PRESETS, group_names, group_table
from segmentum.compiler.sources import TABLE_SOURCES, source_info
from segmentum.compiler.types import (
    DERIVED_TYPES,
    METRIC_TYPES,
    NUMERIC_METRICS,
    aggregate_problem,
    aggregate_type,
)
from segmentum.spec.external import did_you_mean
from segmentum.spec.nodes import (
    Activity,
    Aggregate,
    AggregateMeasure,
    All,
    AnyOf,
    Attribute,
    Bucket,
    Comparison,
    Derived,
    EachMonth,
    Ever,
    ManualList,
    MessageReaction,
    Metric,
    MetricMeasure,
    Node,
    Percentile,
    Recency,
    SegmentRef,
    Sequence,
    walk,
)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_Found = Iterator[tuple[str, str, str]]  # (code, pointer, message)


class _Checker:
    def __init__(
        self,
        definitions: Mapping[str, Node],
        catalog: Catalog,
        settings: WorkspaceSettings,
        manual_lists: Collection[str],
        predictions: bool | None = None,
    ) -> None:
        self.definitions = definitions
        self.catalog = catalog
        self.settings = settings
        self.manual_lists = frozenset(manual_lists)
        self.predictions = predictions

    def predictive(self, name: str, here: str) -> _Found:
        """SEG114 when a predictive metric is used but predictions were never stored
        (``predictions`` False; None means unknown here, e.g. when saving a definition)."""
        if name in PREDICTIVE_TYPES and self.predictions is False:
            message = (
                f"{name!r} needs stored predictions ({PREDICTIONS_TABLE}), which were never "
                "computed: run `segmentum clv refresh`"
            )
            yield "SEG114", here, message

    def check(self, node: Node) -> _Found:
        for here, each in nodes_with_pointers(node):
            visit = getattr(self, f"visit_{type(each).__name__}", None)
            if visit is not None:
                yield from visit(each, here)

    # -- helpers ---------------------------------------------------------------------------

    def comparison(self, comparison: Comparison, value_type: ValueType, here: str) -> _Found:
        for code, sub, message in comparison_issues(comparison, value_type):
            yield code, f"{here}/comparison{sub}", message

    def activity(self, activity: Activity, here: str, *, each_month: bool = False) -> _Found:
        info = source_info(self.catalog, activity.source)
        if info is None:
            sources = (*TABLE_SOURCES, *self.catalog.event_types)
            hint = did_you_mean(activity.source, sources)
            yield (
                "SEG104",
                f"{here}/source",
                f"unknown source or event type {activity.source!r}{hint}",
            )
        else:
            for index, item in enumerate(activity.filters):
                at = f"{here}/filters/{index}"
                field_type = info.fields.get(item.field)
                if field_type is None:
                    hint = did_you_mean(item.field, info.fields)
                    message = f"{activity.source} has no field {item.field!r}{hint}"
                    yield "SEG101", f"{at}/field", message
                    continue
                yield from self.comparison(item.comparison, field_type, at)
        if isinstance(activity.window, EachMonth) and not each_month:
            yield "SEG111", f"{here}/window", "each_month is only allowed in an aggregate"

    def aggregate(
        self, activity: Activity, function: str, field: str | None, here: str
    ) -> Iterator[tuple[str, str, str] | ValueType]:
        info = source_info(self.catalog, activity.source)
        if info is None:
            return
        field_type = None
        if field is not None:
            field_type = info.fields.get(field)
            if field_type is None:
                hint = did_you_mean(field, info.fields)
                message = f"{activity.source} has no field {field!r}{hint}"
                yield "SEG101", f"{here}/field", message
                return
        problem = aggregate_problem(function, field_type)
        if problem is not None:
            yield "SEG109", f"{here}/field" if field else f"{here}/function", problem
            return
        yield aggregate_type(function, field_type)

    # -- combinators -----------------------------------------------------------------------

    def visit_All(self, node: All, here: str) -> _Found:
        if not node.items:
            yield "SEG113", here, "all needs at least one condition"

    def visit_AnyOf(self, node: AnyOf, here: str) -> _Found:
        if not node.items:
            yield "SEG113", here, "any needs at least one condition"

    # -- leaves ----------------------------------------------------------------------------

    def visit_Attribute(self, node: Attribute, here: str) -> _Found:
        customers = self.catalog.table("customers")
        if not customers.has_column(node.field):
            hint = did_you_mean(node.field, customers.column_names)
            yield "SEG101", f"{here}/field", f"customers have no attribute {node.field!r}{hint}"
            return
        yield from self.comparison(node.comparison, customers.column(node.field).type, here)

    def visit_Derived(self, node: Derived, here: str) -> _Found:
        yield from self.comparison(node.comparison, DERIVED_TYPES[node.field], here)

    def visit_Aggregate(self, node: Aggregate, here: str) -> _Found:
        yield from self.activity(node.activity, f"{here}/activity", each_month=True)
        for found in self.aggregate(node.activity, node.function, node.field, here):
            if isinstance(found, ValueType):
                yield from self.comparison(node.comparison, found, here)
            else:
                yield found

    def visit_Sequence(self, node: Sequence, here: str) -> _Found:
        yield from self.activity(node.first, f"{here}/first")
        yield from self.activity(node.then, f"{here}/then")
        if not isinstance(node.then.window, Ever):
            yield "SEG111", f"{here}/then/window", "then has no window of its own (use within)"
        if node.within is not None and node.within.unit == "m":
            yield "SEG111", f"{here}/within", "a sequence's within is hours, days or weeks"
        first = source_info(self.catalog, node.first.source)
        then = source_info(self.catalog, node.then.source)
        for index, (left, right) in enumerate(node.match):
            at = f"{here}/match/{index}"
            left_type = first.fields.get(left) if first else None
            right_type = then.fields.get(right) if then else None
            if first is not None and left_type is None:
                yield "SEG110", f"{at}/0", f"{node.first.source} has no field {left!r}"
            if then is not None and right_type is None:
                yield "SEG110", f"{at}/1", f"{node.then.source} has no field {right!r}"
            comparable = left_type not in (None, ValueType.TEXT_LIST, ValueType.JSON)
            both = left_type is not None and right_type is not None
            if both and (left_type != right_type or not comparable):
                message = f"cannot match {left!r} ({left_type}) with {right!r} ({right_type})"
                yield "SEG110", at, message

    def visit_Recency(self, node: Recency, here: str) -> _Found:
        yield from self.activity(node.activity, f"{here}/activity")
        yield from self.comparison(node.comparison, ValueType.INTEGER, here)

    def visit_Metric(self, node: Metric, here: str) -> _Found:
        value_type = METRIC_TYPES.get(node.name, PREDICTIVE_TYPES.get(node.name))
        if value_type is None:
            yield "SEG107", f"{here}/name", f"unknown metric {node.name!r}"
            return
        yield from self.predictive(node.name, f"{here}/name")
        if node.preset is not None and node.name != "rfm_group":
            yield "SEG108", f"{here}/preset", "a preset applies to rfm_group only"
        elif node.preset is not None and node.preset not in PRESETS:
            yield "SEG108", f"{here}/preset", f"unknown RFM preset {node.preset!r}"
            return
        issues = list(self.comparison(node.comparison, value_type, here))
        yield from issues
        if issues or node.name not in ("lifecycle", "rfm_group"):
            return
        if node.name == "lifecycle":
            known, kind = frozenset(STAGES), "lifecycle stage"
        else:
            try:
                known, kind = group_names(group_table(self.settings, node.preset)), "RFM group"
            except KeyError:
                preset = self.settings.rfm.preset
                yield "SEG108", f"{here}/preset", f"unknown RFM preset {preset!r} in settings"
                return
        raw = node.comparison.value
        values = raw if isinstance(raw, tuple) else () if raw is None else (raw,)
        for index, value in enumerate(values):
            if value not in known:
                at = f"{here}/comparison/value" + (f"/{index}" if isinstance(raw, tuple) else "")
                yield "SEG108", at, f"unknown {kind} {value!r}"

    def visit_Percentile(self, node: Percentile, here: str) -> _Found:
        measure = node.measure
        at = f"{here}/measure"
        if isinstance(measure, MetricMeasure):
            if measure.metric not in METRIC_TYPES and measure.metric not in PREDICTIVE_TYPES:
                yield "SEG107", f"{at}/metric", f"unknown metric {measure.metric!r}"
            elif measure.metric not in NUMERIC_METRICS | PREDICTIVE_TYPES.keys():
                yield "SEG102", f"{at}/metric", f"cannot rank by {measure.metric!r}"
            else:
                yield from self.predictive(measure.metric, f"{at}/metric")
            return
        assert isinstance(measure, AggregateMeasure)
        yield from self.activity(measure.activity, f"{at}/activity")
        for found in self.aggregate(measure.activity, measure.function, measure.field, at):
            if not isinstance(found, ValueType):
                yield found

    def visit_MessageReaction(self, node: MessageReaction, here: str) -> _Found:
        if isinstance(node.window, EachMonth):
            yield "SEG111", f"{here}/window", "each_month is only allowed in an aggregate"
        if node.conversion_days is not None and node.reaction != "converted":
            yield "SEG103", f"{here}/conversion_days", "conversion_days applies to converted"

    def visit_SegmentRef(self, node: SegmentRef, here: str) -> _Found:
        if node.segment not in self.definitions:
            yield "SEG105", f"{here}/segment", f"unknown segment {node.segment!r}"

    def visit_Bucket(self, node: Bucket, here: str) -> _Found:
        yield from self.comparison(node.comparison, ValueType.INTEGER, here)

    def visit_ManualList(self, node: ManualList, here: str) -> _Found:
        if node.list_name not in self.manual_lists:
            yield "SEG112", f"{here}/list_name", f"unknown manual list {node.list_name!r}"


def _references(node: Node) -> list[tuple[str, str]]:
    return [
        (here, each.segment)
        for here, each in nodes_with_pointers(node)
        if isinstance(each, SegmentRef)
    ]


def _cycle_issues(definitions: Mapping[str, Node]) -> list[SemanticIssue]:
    edges = {
        name: {target for _, target in _references(node) if target in definitions}
        for name, node in definitions.items()
    }

    def reaches(start: str, goal: str) -> bool:
        seen: set[str] = set()
        stack = [start]
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current in seen:
                continue
            seen.add(current)
            stack.extend(edges[current])
        return False

    issues = []
    for name, node in definitions.items():
        for here, target in _references(node):
            if target in definitions and reaches(target, name):
                issues.append(
                    SemanticIssue(
                        "SEG106",
                        f"{here}/segment",
                        f"{name!r} refers to {target!r}, which refers back to {name!r}",
                        name,
                    )
                )
    return issues


def validate(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    manual_lists: Collection[str] = (),
    predictions: bool | None = None,
) -> list[SemanticIssue]:
    """Every semantic problem of every definition (empty list: all valid).

    ``predictions`` tells whether the stored predictions table exists (None: not known, so
    predictive metrics are not checked for it; compiling always knows)."""
    checker = _Checker(definitions, catalog, settings, manual_lists, predictions)
    issues: list[SemanticIssue] = []
    for name, node in definitions.items():
        if not _NAME.fullmatch(name):
            issues.append(SemanticIssue("SEG100", "/", f"invalid segment name {name!r}", name))
        for code, here, message in checker.check(node):
            issues.append(SemanticIssue(code, here, message, name))
    issues.extend(_cycle_issues(definitions))
    return issues


def referenced_segments(node: Node) -> set[str]:
    return {each.segment for each in walk(node) if isinstance(each, SegmentRef)}
