"""One pass: N segments are one scan per source; user text never changes the SQL's shape."""

from __future__ import annotations

import re
from typing import Any

import ibis
import sqlglot
import sqlglot.expressions as exp
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from segmentum.catalog.schema import Catalog, build_catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler import compile_segments
from segmentum.spec.nodes import (
    Activity,
    Aggregate,
    All,
    AnyOf,
    Attribute,
    Bucket,
    Comparison,
    Duration,
    Filter,
    HasTag,
    Metric,
    MetricMeasure,
    Node,
    Not,
    Percentile,
    Recency,
    Sequence,
    Within,
)
from tests.compiler.conftest import AS_OF, MakeTables


def thirty_segments() -> dict[str, Node]:
    out: dict[str, Node] = {}
    for i in range(30):
        window = Within(duration=Duration(amount=30 * (i % 5 + 1), unit="d"))
        parts: list[Node] = [
            Aggregate(
                activity=Activity(source="orders", window=window),
                function="sum" if i % 2 else "count",
                field="amount" if i % 2 else None,
                comparison=Comparison(op="gte", value=i),
            ),
            Attribute(field="country", comparison=Comparison(op="eq", value=f"C{i % 3}")),
        ]
        if i % 3 == 0:
            parts.append(Not(item=HasTag(tag=f"t{i}")))
        if i % 4 == 0:
            parts.append(
                Recency(
                    activity=Activity(source="page_view"), comparison=Comparison(op="lte", value=i)
                )
            )
        if i % 5 == 0:
            parts.append(Metric(name="lifecycle", comparison=Comparison(op="eq", value="active")))
        if i % 7 == 0:
            parts.append(
                Percentile(
                    measure=MetricMeasure(metric="monetary"), direction="top", percent=10 + i
                )
            )
        out[f"seg_{i}"] = All(items=tuple(parts)) if i % 6 else AnyOf(items=tuple(parts))
    return out


def _scans(sql: str, table: str) -> int:
    """How often ``table`` is read (names may be qualified: "memory"."main"."orders")."""
    return len(re.findall(rf'FROM (?:"\w+"\.)*"{table}"', sql))


def test_thirty_segments_scan_orders_once(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    tables = make_tables()
    expr = compile_segments(thirty_segments(), catalog, settings, tables, AS_OF)
    sql = ibis.to_sql(expr, dialect="duckdb")
    assert _scans(sql, "orders") == 1
    assert _scans(sql, "events") == 1
    assert _scans(sql, "customers") == 1
    assert sql.count("GROUP BY") == 2  # orders, events
    assert expr.count().to_pyarrow().as_py() == 0
    assert expr.columns == ("customer_id", *(f"seg_{i}" for i in range(30)))


def _shape(sql: str) -> str:
    """The SQL with every string literal replaced by a placeholder."""
    tree = sqlglot.parse_one(sql, read="duckdb")

    def blank(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal) and node.is_string:
            return exp.Literal.string("?")
        return node

    return tree.transform(blank).sql(dialect="duckdb")


def _definitions(text: str) -> dict[str, Node]:
    return {
        "s": All(
            items=(
                Attribute(field="country", comparison=Comparison(op="eq", value=text)),
                Attribute(field="city", comparison=Comparison(op="in", value=(text, "x"))),
                Attribute(field="email", comparison=Comparison(op="contains", value=text)),
                HasTag(tag=text or "x"),
                Bucket(seed=text, modulo=10, comparison=Comparison(op="lt", value=3)),
                Aggregate(
                    activity=Activity(
                        source="orders",
                        filters=(
                            Filter(
                                field="store", comparison=Comparison(op="starts_with", value=text)
                            ),
                        ),
                    ),
                    comparison=Comparison(op="gte", value=1),
                ),
                Sequence(
                    first=Activity(
                        source="product_inquiry",
                        filters=(
                            Filter(field="channel", comparison=Comparison(op="eq", value=text)),
                        ),
                    ),
                    then=Activity(source="orders"),
                    within=Duration(amount=2, unit="d"),
                ),
            )
        )
    }


_TABLES: dict[str, Any] = {}


def _unbound_tables(catalog: Catalog) -> dict[str, Any]:
    if not _TABLES:
        from segmentum.engine.types import ibis_schema

        for name, table in catalog.tables.items():
            _TABLES[name] = ibis.table(ibis_schema(table), name=name)
        _TABLES["manual_list_members"] = ibis.table(
            {"list_name": "string", "customer_id": "string"}, name="manual_list_members"
        )
    return _TABLES


_SETTINGS = WorkspaceSettings()
_CATALOG = build_catalog(_SETTINGS)
_BASELINE = _shape(
    ibis.to_sql(
        compile_segments(
            _definitions("plain"), _CATALOG, _SETTINGS, _unbound_tables(_CATALOG), AS_OF
        ),
        dialect="duckdb",
    )
)

_nasty = st.one_of(
    st.sampled_from(["'", "''", "'); drop table customers; --", '"', "\\", "%_", "ž€😀", "\x00"]),
    st.text(min_size=1, max_size=20),
).filter(lambda s: "\x00" not in s)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_nasty)
def test_user_text_never_changes_sql_shape(text: str) -> None:
    expr = compile_segments(
        _definitions(text), _CATALOG, _SETTINGS, _unbound_tables(_CATALOG), AS_OF
    )
    assert _shape(ibis.to_sql(expr, dialect="duckdb")) == _BASELINE
