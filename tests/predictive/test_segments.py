"""Predictive metrics in the segment language: read from the stored predictions, lowered by
the one-pass compiler and evaluated by the reference evaluator with the same members; without
predictions, validation fails closed (SEG114)."""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa
import pytest

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler import InvalidSegmentsError, compile_segments, validate
from segmentum.compiler.predictive import PREDICTIONS_TABLE
from segmentum.engine.reference import ReferenceError, evaluate_reference
from segmentum.spec.nodes import Node
from segmentum.spec.text import parse_text
from tests.compiler.conftest import AS_OF, MakeTables, customer, members

PREDICTIONS = [
    # customer_id, p_alive, expected_purchases, expected_aov, clv
    ("c1", 0.1, 0.2, 50.0, 500.0),
    ("c2", 0.2, 0.5, 20.0, 100.0),
    ("c3", 0.9, 4.0, 30.0, 900.0),
    ("c4", 0.25, 1.5, 80.0, 800.0),
    ("c5", 0.5, 1.0, 10.0, 50.0),
    ("gone", 0.5, 1.0, 10.0, 50.0),  # a prediction for a customer no longer in the data
]
CASES: dict[str, tuple[str, set[str]]] = {
    "predictive_p_alive_lt": ("p_alive < 0.3", {"c1", "c2", "c4"}),
    "predictive_clv_top_20": ("clv in top 20%", {"c3"}),
    "predictive_issue_example": ("p_alive < 0.3 and clv in top 40%", {"c4"}),
    "predictive_churn_risk_gte": ("churn_risk >= 0.75", {"c1", "c2", "c4"}),
    "predictive_expected_purchases_between": (
        "expected_purchases between 1 and 2",
        {"c4", "c5"},
    ),
    "predictive_not_without_prediction": ("not p_alive < 0.3", {"c3", "c5", "c6"}),
    "predictive_clv_bottom_40": ("clv in bottom 40%", {"c2", "c5"}),
    "predictive_is_not_set": ("p_alive is not set", {"c6"}),
}


def prediction_rows() -> list[dict[str, Any]]:
    names = ("customer_id", "p_alive", "expected_purchases", "expected_aov", "clv")
    return [dict(zip(names, row, strict=True)) for row in PREDICTIONS]


def definitions() -> dict[str, Node]:
    return {name: parse_text(text) for name, (text, _) in CASES.items()}


def customers() -> list[dict[str, Any]]:
    return [customer(f"c{i}") for i in range(1, 7)]


def test_compiler_and_reference_agree_with_hand_members(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    tables = make_tables(customers=customers())
    tables[PREDICTIONS_TABLE] = ibis.memtable(pa.Table.from_pylist(prediction_rows()))
    result = compile_segments(definitions(), catalog, settings, tables, AS_OF)
    data = {"customers": customers(), PREDICTIONS_TABLE: prediction_rows()}
    reference = evaluate_reference(definitions(), data, catalog, settings, AS_OF)
    for name, (_, expected) in CASES.items():
        assert members(result, name) == expected, name
        assert reference[name] == expected, name


def test_without_predictions_validation_fails_closed(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    tables = make_tables(customers=customers())
    with pytest.raises(InvalidSegmentsError) as caught:
        compile_segments(definitions(), catalog, settings, tables, AS_OF)
    codes = {(issue.segment, issue.code, issue.path) for issue in caught.value.issues}
    assert ("predictive_p_alive_lt", "SEG114", "/metric/name") in codes
    assert ("predictive_clv_top_20", "SEG114", "/percentile/measure/metric") in codes
    assert len(codes) == len(CASES) + 1  # the issue example has two predictive conditions
    data = {"customers": customers()}
    with pytest.raises(ReferenceError):
        evaluate_reference(definitions(), data, catalog, settings, AS_OF)


def test_saving_does_not_need_predictions(catalog: Catalog, settings: WorkspaceSettings) -> None:
    """Validation without knowledge of the engine (saving a definition) accepts the metrics;
    compiling always knows and refuses."""
    assert validate(definitions(), catalog, settings) == []
    issues = validate(definitions(), catalog, settings, predictions=False)
    assert {issue.code for issue in issues} == {"SEG114"}
    assert validate(definitions(), catalog, settings, predictions=True) == []


def test_rfm_metrics_do_not_join_predictions(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    tables = make_tables(customers=customers())
    result = compile_segments({"f": parse_text("frequency = 0")}, catalog, settings, tables, AS_OF)
    assert members(result, "f") == {f"c{i}" for i in range(1, 7)}
