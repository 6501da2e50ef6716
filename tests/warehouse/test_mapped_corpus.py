"""The segment corpus, the library, lifecycle and RFM over MAPPED tables on every engine.

Four catalog tables come from the business's own sources with other column names and types
(tests/warehouse/business.py); the expected members are the corpus's, unchanged.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from segmentum.compiler import compile_lifecycle, compile_rfm, compile_segments
from segmentum.engine.reference import reference_lifecycle, reference_rfm
from tests.corpus.cases import AS_OF_INSTANTS, CASES, SegmentCase, cases_at
from tests.corpus.engines import true_sets
from tests.corpus.library_cases import DST_CASES, LIBRARY_CASES
from tests.corpus.shop import CATALOG, DATA, SETTINGS
from tests.warehouse.conftest import MappedShop

ALL_CASES = CASES + LIBRARY_CASES + DST_CASES
LIBRARY_NAMES = frozenset(case.name for case in LIBRARY_CASES + DST_CASES)
_RESULTS: dict[tuple[int, datetime, bool], tuple[dict[str, set[str]], list[str]]] = {}


def _group(as_of: datetime, library: bool) -> list[SegmentCase]:
    return [c for c in ALL_CASES if c.as_of == as_of and (c.name in LIBRARY_NAMES) == library]


def _compiled(
    shop: MappedShop, as_of: datetime, library: bool
) -> tuple[dict[str, set[str]], list[str]]:
    """One compile per as_of for the corpus and one for the library (as tests/corpus does:
    one expression with both is deep enough to exhaust Python's recursion limit on Spark)."""
    key = (id(shop), as_of, library)
    if key not in _RESULTS:
        definitions = {case.name: case.definition for case in _group(as_of, library)}
        result = compile_segments(definitions, CATALOG, SETTINGS, shop.tables, as_of)
        _RESULTS[key] = true_sets(result, definitions)
    return _RESULTS[key]


def test_every_as_of_is_covered() -> None:
    assert {case.as_of for case in ALL_CASES} <= set(AS_OF_INSTANTS)
    assert len(cases_at(AS_OF_INSTANTS[0])) > 100


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.name for case in ALL_CASES])
def test_case_on_mapped_tables(mapped_shop: MappedShop, case: SegmentCase) -> None:
    members, with_nulls = _compiled(mapped_shop, case.as_of, case.name in LIBRARY_NAMES)
    got = members[case.name]
    assert got == set(case.expected_ids), (
        f"{mapped_shop.kind}: missing {sorted(case.expected_ids - got)}, "
        f"extra {sorted(got - case.expected_ids)}"
    )
    assert case.name not in with_nulls


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value == int(value):
        return int(value)
    return value


@pytest.mark.parametrize("as_of", AS_OF_INSTANTS[:2], ids=["main", "dst"])
def test_lifecycle_on_mapped_tables(mapped_shop: MappedShop, as_of: datetime) -> None:
    rows = compile_lifecycle(CATALOG, SETTINGS, mapped_shop.tables, as_of).to_pyarrow()
    got = {
        row["customer_id"]: (row["stage"], _plain(row["days_since_last_purchase"]))
        for row in rows.to_pylist()
    }
    assert got == reference_lifecycle(DATA, CATALOG, SETTINGS, as_of)


@pytest.mark.parametrize("preset", [None, "grid"])
def test_rfm_on_mapped_tables(mapped_shop: MappedShop, preset: str | None) -> None:
    as_of = AS_OF_INSTANTS[0]
    result = compile_rfm(CATALOG, SETTINGS, mapped_shop.tables, as_of, preset=preset)
    expected = reference_rfm(DATA, CATALOG, SETTINGS, as_of, preset=preset)
    columns = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score")
    scored = {c: row for c, row in expected.items() if row["r_score"] is not None}
    got: dict[str, dict[str, Any]] = {}
    for row in result.to_pyarrow().to_pylist():
        values = {column: _plain(row[column]) for column in columns}
        values["monetary"] = Decimal(str(values["monetary"]))
        values["rfm_group"] = row["rfm_group"]
        got[row["customer_id"]] = values
    assert {c: got.get(c) for c in scored} == scored


def test_mapped_columns_have_catalog_types(mapped_shop: MappedShop) -> None:
    from segmentum.engine.types import ibis_schema

    tables = mapped_shop.tables
    for name in ("customers", "orders", "order_items", "subscriptions"):
        want = ibis_schema(CATALOG.table(name))
        got = tables[name].schema()
        assert list(got.names) == list(want.names), name
        for column in want.names:
            found, wanted = got[column].copy(nullable=True), want[column].copy(nullable=True)
            if wanted.is_timestamp():  # Spark reports no scale (always microseconds)
                assert found.is_timestamp(), (name, column, found)
                assert found.timezone is None, (name, column, found)
                continue
            assert found == wanted, (name, column, found)
    orders = tables["orders"].order_by("order_id").limit(1).to_pyarrow().to_pylist()
    assert orders[0]["order_id"] == "1001"  # BIGINT txn_id as text, byte order ("1001" < "101")
