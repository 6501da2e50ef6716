from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import RfmRule, RfmSettings, WorkspaceSettings
from segmentum.compiler import InvalidSegmentsError, compile_rfm, compile_segments
from segmentum.compiler.rfm import PRESETS, classify, score
from segmentum.spec.nodes import Comparison, Metric
from tests.compiler.conftest import AS_OF, D, MakeTables, customer, order


def ago(days: int) -> Any:
    return D - timedelta(days=days)


def five_customers() -> dict[str, list[Any]]:
    orders = [
        order("a1", "a", ago(10), "100.00"),
        order("b1", "b", ago(10), "50.00"),
        order("c1", "c", ago(5), "25.00"),
        order("c2", "c", ago(20), "25.00"),
        order("d1", "d", ago(1), "3.33"),
        order("d2", "d", ago(2), "3.33"),
        order("d3", "d", ago(3), "3.34"),
        order("e1", "e", ago(30), "100.00"),
        order("e2", "e", ago(40), "200.00"),
        order("e3", "e", ago(50), "200.00"),
        order("x1", "x", ago(1), "999.00", status="cancelled"),
    ]
    return {"customers": [customer(c) for c in "abcdex"], "orders": orders}


def rows(expr: Any) -> dict[str, dict[str, Any]]:
    return {row.pop("customer_id"): row for row in expr.to_pyarrow().to_pylist()}


def test_scores_values_and_ranges_groups(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    got = rows(compile_rfm(catalog, settings, make_tables(**five_customers()), AS_OF))
    assert got == {
        "a": {
            "recency_days": 10,
            "frequency": 1,
            "monetary": Decimal("100.00"),
            "r_score": 2,
            "f_score": 1,
            "m_score": 4,
            "rfm_group": "About To Sleep",
        },
        "b": {
            "recency_days": 10,
            "frequency": 1,
            "monetary": Decimal("50.00"),
            "r_score": 3,
            "f_score": 2,
            "m_score": 2,
            "rfm_group": "Loyal Customers",
        },
        "c": {
            "recency_days": 5,
            "frequency": 2,
            "monetary": Decimal("50.00"),
            "r_score": 4,
            "f_score": 3,
            "m_score": 3,
            "rfm_group": "Potential Loyalist",
        },
        "d": {
            "recency_days": 1,
            "frequency": 3,
            "monetary": Decimal("10.00"),
            "r_score": 5,
            "f_score": 4,
            "m_score": 1,
            "rfm_group": "Others",
        },
        "e": {
            "recency_days": 30,
            "frequency": 3,
            "monetary": Decimal("500.00"),
            "r_score": 1,
            "f_score": 5,
            "m_score": 5,
            "rfm_group": "At Risk",
        },
    }  # "x" has only a cancelled order: not scored


@pytest.mark.parametrize(
    ("preset", "groups"),
    [
        (
            "grid",
            {
                "a": "Hibernating",
                "b": "About to Sleep",
                "c": "Potential Loyalists",
                "d": "Champions",
                "e": "Can't Lose Them",
            },
        ),
        (
            "four",
            {"a": "inactive", "b": "new", "c": "loyal", "d": "loyal", "e": "potentially lost"},
        ),
    ],
)
def test_presets(
    catalog: Catalog,
    settings: WorkspaceSettings,
    make_tables: MakeTables,
    preset: str,
    groups: dict[str, str],
) -> None:
    got = rows(compile_rfm(catalog, settings, make_tables(**five_customers()), AS_OF, preset))
    assert {cid: row["rfm_group"] for cid, row in got.items()} == groups


@pytest.mark.parametrize(
    ("bins", "f_scores"),
    [(3, [1, 1, 2, 3, 3]), (4, [1, 1, 2, 3, 4]), (5, [1, 2, 3, 4, 5])],
)
def test_bins(catalog: Catalog, make_tables: MakeTables, bins: int, f_scores: list[int]) -> None:
    settings = WorkspaceSettings(rfm=RfmSettings(bins=bins))  # type: ignore[arg-type]
    got = rows(compile_rfm(catalog, settings, make_tables(**five_customers()), AS_OF))
    assert [got[c]["f_score"] for c in "abcde"] == f_scores
    assert f_scores == [score(bins, i, 5) for i in range(5)]


@pytest.mark.parametrize("bins", [3, 4, 5])
def test_one_and_two_customers(catalog: Catalog, make_tables: MakeTables, bins: int) -> None:
    settings = WorkspaceSettings(rfm=RfmSettings(bins=bins))  # type: ignore[arg-type]
    one = make_tables(customers=[customer("a")], orders=[order("1", "a", ago(3))])
    assert rows(compile_rfm(catalog, settings, one, AS_OF))["a"]["r_score"] == 1
    assert {
        k: v
        for k, v in rows(compile_rfm(catalog, settings, one, AS_OF))["a"].items()
        if k.endswith("score")
    } == {"r_score": 1, "f_score": 1, "m_score": 1}
    two = make_tables(
        customers=[customer("a"), customer("b")],
        orders=[order("1", "a", ago(3)), order("2", "b", ago(3))],  # full ties
    )
    got = rows(compile_rfm(catalog, settings, two, AS_OF))
    assert [(got[c]["r_score"], got[c]["f_score"], got[c]["m_score"]) for c in "ab"] == [
        (1, 1, 1),
        (bins, bins, bins),
    ]


def test_value_groups_crossed_by_cuts_rank_by_customer_id(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    """Ten customers in few value groups, each group crossed by bin cuts: within a group
    the position (hence the score) follows customer_id (scores 1,1,2,2,3,3,4,4,5,5 by
    position for n = 10, k = 5)."""
    ids = [f"c{i}" for i in range(10)]
    orders = [order(f"{cid}-1", cid, ago(1 if cid == "c0" else 5), "10.00") for cid in ids[4:]]
    for cid in ids[:4]:  # two orders each: frequency 2, the same 10.00 in total
        orders += [order(f"{cid}-1", cid, ago(1 if cid == "c0" else 5), "5.00")]
        orders += [order(f"{cid}-2", cid, ago(9), "5.00")]
    got = rows(
        compile_rfm(
            catalog,
            settings,
            make_tables(customers=[customer(c) for c in ids], orders=orders),
            AS_OF,
        )
    )
    by_position = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # recency 5 days for c1..c9 (by id), then c0 (1 day: the most recent ranks last)
    assert [got[c]["r_score"] for c in [*ids[1:], "c0"]] == by_position
    # frequency 1 for c4..c9, then 2 for c0..c3
    assert [got[c]["f_score"] for c in [*ids[4:], *ids[:4]]] == by_position
    # monetary 10.00 for everyone: by id
    assert [got[c]["m_score"] for c in ids] == by_position
    assert by_position == [score(5, i, 10) for i in range(10)]


def test_workspace_group_table_and_metric(catalog: Catalog, make_tables: MakeTables) -> None:
    settings = WorkspaceSettings(
        rfm=RfmSettings(groups=(RfmRule(name="top", f=(4, 5)), RfmRule(name="rest")))
    )
    tables = make_tables(**five_customers())
    got = rows(compile_rfm(catalog, settings, tables, AS_OF))
    assert {cid: row["rfm_group"] for cid, row in got.items()} == {
        "a": "rest",
        "b": "rest",
        "c": "rest",
        "d": "top",
        "e": "top",
    }
    definitions = {
        "top": Metric(name="rfm_group", comparison=Comparison(op="eq", value="top")),
        "grid_champ": Metric(
            name="rfm_group", preset="grid", comparison=Comparison(op="eq", value="Champions")
        ),
        "r_high": Metric(name="r_score", comparison=Comparison(op="gte", value=4)),
    }
    seg = rows(compile_segments(definitions, catalog, settings, tables, AS_OF))
    assert {c for c, r in seg.items() if r["top"]} == {"d", "e"}
    assert {c for c, r in seg.items() if r["grid_champ"]} == {"d"}
    assert {c for c, r in seg.items() if r["r_high"]} == {"c", "d"}


def test_unknown_preset(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    with pytest.raises(InvalidSegmentsError):
        compile_rfm(catalog, settings, make_tables(), AS_OF, "nope")


def test_python_twins() -> None:
    assert classify(PRESETS["ranges"], 5, 5, 5) == "Champions"
    assert classify(PRESETS["four"], 1, 1, 1) == "inactive"
    assert score(5, 0, 1) == 1
    assert [score(5, i, 2) for i in range(2)] == [1, 5]
