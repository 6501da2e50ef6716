"""The reference evaluator on the corpus: every case's members equal the hand-worked ones."""

from __future__ import annotations

from datetime import datetime

import pytest

from segmentum.engine.reference import ReferenceError, evaluate_reference
from segmentum.spec.nodes import NODE_TYPES, All, Comparison, HasTag, SegmentRef, walk
from tests.corpus.cases import AS_OF_INSTANTS, CASES, SegmentCase, cases_at
from tests.corpus.shop import AS_OF, CATALOG, DATA, SETTINGS


def _evaluate_all(as_of: datetime) -> dict[str, set[str]]:
    """All cases of one as_of in one call, so segment references resolve."""
    definitions = {case.name: case.definition for case in cases_at(as_of)}
    return evaluate_reference(definitions, DATA, CATALOG, SETTINGS, as_of)


_RESULTS: dict[datetime, dict[str, set[str]]] = {}


def _result(case: SegmentCase) -> set[str]:
    if case.as_of not in _RESULTS:
        _RESULTS[case.as_of] = _evaluate_all(case.as_of)
    return _RESULTS[case.as_of][case.name]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case: SegmentCase) -> None:
    got = _result(case)
    assert got == set(case.expected_ids), (
        f"missing {sorted(case.expected_ids - got)}, extra {sorted(got - case.expected_ids)}"
    )


def test_one_case_alone_equals_the_batch() -> None:
    """A definition evaluates the same alone as among the others (no shared state leaks)."""
    for case in CASES:
        if any(isinstance(node, SegmentRef) for node in walk(case.definition)):
            continue
        alone = evaluate_reference(
            {case.name: case.definition}, DATA, CATALOG, SETTINGS, case.as_of
        )
        assert alone[case.name] == set(case.expected_ids), case.name


def test_every_node_kind_has_a_case() -> None:
    covered = {type(node) for case in CASES for node in walk(case.definition)}
    assert covered == set(NODE_TYPES)


def test_every_as_of_has_cases() -> None:
    for as_of in AS_OF_INSTANTS:
        assert cases_at(as_of)


def test_unknown_segment_fails_closed() -> None:
    with pytest.raises(ReferenceError, match="unknown segment"):
        evaluate_reference({"a": SegmentRef(segment="b")}, DATA, CATALOG, SETTINGS, AS_OF)


def test_cycle_fails_closed() -> None:
    definitions = {"a": SegmentRef(segment="b"), "b": All(items=(SegmentRef(segment="a"),))}
    with pytest.raises(ReferenceError, match="refers to itself"):
        evaluate_reference(definitions, DATA, CATALOG, SETTINGS, AS_OF)


def test_empty_combination_fails_closed() -> None:
    with pytest.raises(ReferenceError):
        evaluate_reference({"a": All(items=())}, DATA, CATALOG, SETTINGS, AS_OF)


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ReferenceError, match="timezone-aware"):
        evaluate_reference({"a": HasTag(tag="vip")}, DATA, CATALOG, SETTINGS, datetime(2024, 5, 15))


def test_unknown_field_fails_closed() -> None:
    from segmentum.spec.nodes import Attribute

    node = Attribute(field="shoe_size", comparison=Comparison(op="eq", value="42"))
    with pytest.raises(ReferenceError, match="no field"):
        evaluate_reference({"a": node}, DATA, CATALOG, SETTINGS, AS_OF)
