"""The same corpus on every engine: compile all cases of one as_of in one call, compare sets.

Also lifecycle and RFM of the compiler against the reference evaluator on the shop.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from segmentum.engine.reference import reference_lifecycle, reference_rfm
from tests.corpus.cases import AS_OF_INSTANTS, CASES, SegmentCase, cases_at
from tests.corpus.engines import EngineWorkspace, true_sets
from tests.corpus.shop import CATALOG, DATA, SETTINGS

_RESULTS: dict[tuple[int, datetime], tuple[dict[str, set[str]], list[str]]] = {}


def _compiled(workspace: EngineWorkspace, as_of: datetime) -> tuple[dict[str, set[str]], list[str]]:
    from segmentum.compiler import compile_segments  # fails loudly until the compiler exists

    key = (id(workspace), as_of)
    if key not in _RESULTS:
        definitions = {case.name: case.definition for case in cases_at(as_of)}
        result = compile_segments(definitions, CATALOG, SETTINGS, workspace.tables, as_of)
        _RESULTS[key] = true_sets(result, definitions)
    return _RESULTS[key]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_on_engine(engine_workspace: EngineWorkspace, case: SegmentCase) -> None:
    members, with_nulls = _compiled(engine_workspace, case.as_of)
    got = members[case.name]
    assert got == set(case.expected_ids), (
        f"{engine_workspace.engine}: missing {sorted(case.expected_ids - got)}, "
        f"extra {sorted(got - case.expected_ids)}"
    )
    assert case.name not in with_nulls, "conditions are two-valued: no NULL membership"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value == int(value):
        return int(value)
    return value


@pytest.mark.parametrize("as_of", AS_OF_INSTANTS[:2], ids=["main", "dst"])
def test_lifecycle_on_engine(engine_workspace: EngineWorkspace, as_of: datetime) -> None:
    from segmentum.compiler import compile_lifecycle

    result = compile_lifecycle(CATALOG, SETTINGS, engine_workspace.tables, as_of)
    rows = result.to_pyarrow().to_pylist()
    got = {
        row["customer_id"]: (row["stage"], _plain(row["days_since_last_purchase"])) for row in rows
    }
    assert got == reference_lifecycle(DATA, CATALOG, SETTINGS, as_of)


@pytest.mark.parametrize("preset", [None, "ranges", "grid", "four"])
def test_rfm_on_engine(engine_workspace: EngineWorkspace, preset: str | None) -> None:
    from segmentum.compiler import compile_rfm

    as_of = AS_OF_INSTANTS[0]
    result = compile_rfm(CATALOG, SETTINGS, engine_workspace.tables, as_of, preset=preset)
    expected = reference_rfm(DATA, CATALOG, SETTINGS, as_of, preset=preset)
    columns = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score")
    got: dict[str, dict[str, Any]] = {}
    for row in result.to_pyarrow().to_pylist():
        values = {column: _plain(row[column]) for column in columns}
        if values["monetary"] is not None:
            values["monetary"] = Decimal(str(values["monetary"]))
        values["rfm_group"] = row["rfm_group"]
        got[row["customer_id"]] = values
    # customers the engine leaves out must be unscored ones with nothing to report
    for customer_id in set(expected) - set(got):
        assert expected[customer_id]["r_score"] is None, customer_id
    scored = {c: row for c, row in expected.items() if row["r_score"] is not None}
    assert {c: got.get(c) for c in scored} == scored
    unscored = {c: row for c, row in got.items() if c not in scored}
    for customer_id, row in unscored.items():
        assert row == expected[customer_id], customer_id
