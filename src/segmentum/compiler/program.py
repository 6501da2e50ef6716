"""The compiler's entry points: all segments in one pass, lifecycle, RFM and explain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import RfmRule, WorkspaceSettings
from segmentum.compiler.errors import InvalidSegmentsError, SemanticIssue
from segmentum.compiler.features import Features
from segmentum.compiler.lower import Lowerer
from segmentum.compiler.paths import nodes_with_pointers
from segmentum.compiler.predictive import PREDICTIONS_TABLE, btyd_holdout, btyd_summary
from segmentum.compiler.rewrite import inline_references, rewrite
from segmentum.compiler.rfm import PRESETS, group_table
from segmentum.compiler.validate import validate
from segmentum.compiler.windows import Clock
from segmentum.spec.nodes import All, AnyOf, Node, Not, SegmentRef

Table = Any  # ibis.Table (ibis ships no type information)


def _clock(as_of: datetime, settings: WorkspaceSettings) -> Clock:
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be a timezone-aware instant")
    return Clock(as_of, settings.timezone)


def _features(
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Table],
    as_of: datetime,
    customer_columns: tuple[str, ...] | None = None,
) -> Features:
    return Features(
        catalog, settings, tables, _clock(as_of, settings), customer_columns=customer_columns
    )


#: Lifecycle and RFM read no customer attribute.
METRICS_COLUMNS = ("customer_id",)


def prepare(definitions: Mapping[str, Node]) -> dict[str, Node]:
    """Each definition with references inlined and the rewrite rules applied."""
    return {
        name: rewrite(inline_references(node, definitions)) for name, node in definitions.items()
    }


def compile_segments(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Table],
    as_of: datetime,
    boundaries: Mapping[str, Any] | None = None,
) -> Table:
    """One row per universe customer: ``customer_id`` and one never-NULL boolean column per
    segment, all segments over one shared feature relation (one scan per source).

    ``boundaries``: RFM scores and percentiles compare each customer's ``(value,
    customer_id)`` with these stored cuts instead of ranking the universe (real-time
    evaluation of a few customers; ``compiler.boundaries``, docs/realtime.md)."""
    if boundaries is not None:
        from segmentum.compiler.boundaries import compile_segments_bounded

        return compile_segments_bounded(definitions, catalog, settings, tables, as_of, boundaries)
    issues = validate(
        definitions,
        catalog,
        settings,
        _list_names(definitions, tables),
        predictions=PREDICTIONS_TABLE in tables,
    )
    if issues:
        raise InvalidSegmentsError(issues)
    features = _features(catalog, settings, tables, as_of)
    lowerer = Lowerer(features)
    predicates = {name: lowerer.lower(node) for name, node in prepare(definitions).items()}
    rel = features.build()
    columns = {name: predicate(rel).fill_null(False) for name, predicate in predicates.items()}
    return rel.select(rel.customer_id, **columns)


def _list_names(definitions: Mapping[str, Node], tables: Mapping[str, Table]) -> set[str]:
    """Manual lists are checked by the caller's validate(); compiling accepts any list name
    (an unknown list simply has no members), so nothing here reads the store."""
    from segmentum.spec.nodes import ManualList, walk

    return {
        each.list_name
        for node in definitions.values()
        for each in walk(node)
        if isinstance(each, ManualList)
    }


def compile_lifecycle(
    catalog: Catalog, settings: WorkspaceSettings, tables: Mapping[str, Table], as_of: datetime
) -> Table:
    """customer_id, stage, days_since_last_purchase for every universe customer."""
    features = _features(catalog, settings, tables, as_of, METRICS_COLUMNS)
    stage = features.metric("lifecycle")
    rel = features.build()
    return rel.select(
        rel.customer_id, stage=rel[stage], days_since_last_purchase=rel.m_recency_days
    )


def _rfm_rules(settings: WorkspaceSettings, preset: str | None) -> tuple[RfmRule, ...]:
    """The score→name table of ``preset`` (default: the workspace's); SEG108 if unknown."""
    if preset is not None and preset not in PRESETS:
        raise InvalidSegmentsError(
            [SemanticIssue("SEG108", "/preset", f"unknown RFM preset {preset!r}")]
        )
    try:
        return group_table(settings, preset)
    except KeyError:
        raise InvalidSegmentsError(
            [SemanticIssue("SEG108", "/preset", f"unknown RFM preset {settings.rfm.preset!r}")]
        ) from None


def compile_rfm(
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Table],
    as_of: datetime,
    preset: str | None = None,
) -> Table:
    """Scored customers only: recency_days, frequency, monetary (DECIMAL(38,2)), r/f/m scores
    and rfm_group from ``preset`` (default: the workspace's table)."""
    rules = _rfm_rules(settings, preset)
    features = _features(catalog, settings, tables, as_of, METRICS_COLUMNS)
    group = features.rfm_group(rules)
    rel = features.build()
    rel = rel.filter(rel.m_r_score.notnull())
    return rel.select(
        rel.customer_id,
        recency_days=rel.m_recency_days,
        frequency=rel.m_frequency,
        monetary=rel.m_monetary,
        r_score=rel.m_r_score,
        f_score=rel.m_f_score,
        m_score=rel.m_m_score,
        rfm_group=rel[group],
    )


def compile_customer_metrics(
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Table],
    as_of: datetime,
    preset: str | None = None,
) -> Table:
    """Lifecycle and RFM of every universe customer in one query (one feature build, one
    aggregate of orders): customer_id, recency_days, frequency, monetary, r/f/m scores,
    rfm_group, stage, days_since_last_purchase. The RFM columns are NULL for customers
    without orders (``compile_rfm``'s rows are the others)."""
    rules = _rfm_rules(settings, preset)
    features = _features(catalog, settings, tables, as_of, METRICS_COLUMNS)
    stage = features.metric("lifecycle")
    group = features.rfm_group(rules)
    rel = features.build()
    scored = rel.m_r_score.notnull()
    return rel.select(
        rel.customer_id,
        recency_days=rel.m_recency_days,
        frequency=ibis.ifelse(scored, rel.m_frequency, ibis.null("int64")),
        monetary=ibis.ifelse(scored, rel.m_monetary, ibis.null(rel.m_monetary.type())),
        r_score=rel.m_r_score,
        f_score=rel.m_f_score,
        m_score=rel.m_m_score,
        rfm_group=rel[group],
        stage=rel[stage],
        days_since_last_purchase=rel.m_recency_days,
    )


def compile_explain(
    node: Node,
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Table],
    as_of: datetime,
    customer_id: str,
) -> Table:
    """One row for ``customer_id`` (none outside the universe): a boolean column per node,
    named by its pointer (``/all/0/attribute``), plus ``<pointer>#value`` with the compared
    value where a leaf has one; ``/`` is the whole condition. References show their result."""
    issues = validate(
        {**definitions, "__explained__": node},
        catalog,
        settings,
        _list_names({"n": node, **definitions}, tables),
        predictions=PREDICTIONS_TABLE in tables,
    )
    issues = [issue for issue in issues if issue.code != "SEG100"]
    if issues:
        raise InvalidSegmentsError(issues)
    features = _features(catalog, settings, tables, as_of)
    inlined = {name: inline_references(each, definitions) for name, each in definitions.items()}
    lowerer = Lowerer(features, inlined)
    columns: dict[str, Any] = {"/": lowerer.lower(node)}
    values: dict[str, Any] = {}
    for here, each in nodes_with_pointers(node):
        if isinstance(each, All | AnyOf | Not):
            continue
        columns[here] = lowerer.lower(each)
        if not isinstance(each, SegmentRef):
            value = lowerer.value_of(each)
            if value is not None:
                values[f"{here}#value"] = value
    rel = features.build()
    rel = rel.filter(rel.customer_id == ibis.literal(customer_id, type=dt.string))
    out: dict[str, Any] = {}
    for here, predicate in columns.items():
        out[here] = predicate(rel).fill_null(False)
        if f"{here}#value" in values:
            out[f"{here}#value"] = values[f"{here}#value"](rel)
    return rel.select(**out)


def compile_btyd_summary(
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Table],
    as_of: datetime,
    period: str,
) -> Table:
    """The BTYD summary (customer_id, frequency, recency, T, monetary) of every universe
    customer with a purchase up to ``as_of``, in periods ``D`` or ``W`` (see predictive.py)."""
    return btyd_summary(_features(catalog, settings, tables, as_of), period)


def compile_btyd_holdout(
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, Table],
    calibration_end: datetime,
    as_of: datetime,
    period: str,
) -> Table:
    """The summary at ``calibration_end`` plus purchase periods after it up to ``as_of``."""
    if as_of <= calibration_end:
        raise ValueError("the holdout must end after the calibration period")
    return btyd_holdout(
        _features(catalog, settings, tables, calibration_end),
        _features(catalog, settings, tables, as_of),
        period,
    )
