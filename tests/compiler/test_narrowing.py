"""Narrowed source relations (``features.Narrowing``): readers that skip records before a
floor, or order items of products no reader's filters accept, give exactly the members the
unnarrowed definitions give (docs/segment-semantics.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import pytest

from segmentum.catalog.schema import Catalog, build_catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler import compile_segments
from segmentum.compiler.features import LOCAL_DATE_MARGIN, Features
from segmentum.compiler.windows import Bounds, Clock
from segmentum.spec.nodes import (
    Activity,
    Aggregate,
    Comparison,
    Duration,
    Filter,
    Node,
    Sequence,
    Within,
)
from tests.compiler.conftest import AS_OF, D, MakeTables, customer, members, order


def cmp(op: str, value: Any = None) -> Comparison:
    return Comparison.model_validate({"op": op, "value": value})


def product(pid: str, category: str, brand: str | None, price: str) -> dict[str, Any]:
    return {"product_id": pid, "category": category, "brand": brand, "price": Decimal(price)}


def item(oid: str, pid: str, quantity: int = 1, price: str = "10.00") -> dict[str, Any]:
    return {"order_id": oid, "product_id": pid, "quantity": quantity, "unit_price": Decimal(price)}


def items_with(*filters: Filter, function: str = "count", field: str | None = None) -> Node:
    return Aggregate(
        activity=Activity(source="order_items", filters=filters),
        function=function,  # type: ignore[arg-type]
        field=field,
        comparison=cmp("gte", 1),
    )


def evaluate(
    definitions: dict[str, Node], catalog: Catalog, settings: WorkspaceSettings, tables: Any
) -> dict[str, set[str]]:
    expr = compile_segments(definitions, catalog, settings, tables, AS_OF)
    return {name: members(expr, name) for name in definitions}


def shop(make_tables: MakeTables) -> Any:
    """a: a shoe; b: an unbranded bag; c: an item of a product missing from the feed;
    d: a cancelled order of a shoe; e: no orders."""
    products = [
        product("shoe", "shoes", "Ace", "700.00"),
        product("bag", "bags", None, "50.00"),
    ]
    orders = [
        order("oa", "a", D - timedelta(days=3)),
        order("ob", "b", D - timedelta(days=3)),
        order("oc", "c", D - timedelta(days=3)),
        order("od", "d", D - timedelta(days=3), status="cancelled"),
    ]
    items = [item("oa", "shoe"), item("ob", "bag"), item("oc", "ghost"), item("od", "shoe")]
    return make_tables(
        customers=[customer(c) for c in "abcde"],
        products=products,
        orders=orders,
        order_items=items,
    )


def test_product_filters_narrow_yet_unknown_products_still_count_when_a_reader_accepts_them(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    tables = shop(make_tables)
    shoes = Filter(field="product.category", comparison=cmp("eq", "shoes"))
    pricey = Filter(field="product.price", comparison=cmp("between", (500, 1000)))
    no_brand = Filter(field="product.brand", comparison=cmp("is_not_set"))
    # Every reader has a product filter no unknown product passes: items are narrowed.
    assert evaluate(
        {"shoes": items_with(shoes, pricey), "bags": items_with(no_brand, shoes)},
        catalog,
        settings,
        tables,
    ) == {"shoes": {"a"}, "bags": set()}
    narrowed = compile_segments({"shoes": items_with(shoes)}, catalog, settings, tables, AS_OF)
    assert '"_nid"' in ibis.to_sql(narrowed)  # order items read only for the chosen products
    # "no brand" alone accepts the unknown product (its brand is not set): nothing narrowed.
    both = {"shoes": items_with(shoes), "no_brand": items_with(no_brand)}
    assert '"_nid"' not in ibis.to_sql(compile_segments(both, catalog, settings, tables, AS_OF))
    assert evaluate(
        {"shoes": items_with(shoes), "no_brand": items_with(no_brand)}, catalog, settings, tables
    ) == {"shoes": {"a"}, "no_brand": {"b", "c"}}


def test_the_then_side_of_a_sequence_starts_at_the_first_sides_floor(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    """Inquired within 7 days and bought nothing since: an order before the inquiry (and
    before the floor) does not count, an order after it does."""

    def inquiry(eid: str, cid: str, at: datetime) -> dict[str, Any]:
        return {
            "event_id": eid,
            "customer_id": cid,
            "type": "product_inquiry",
            "occurred_at": at,
            "local_date": at.date(),
            "product_id": "shoe",
        }

    t = datetime(2024, 5, 8, 9)
    events = [inquiry("x", "x", t), inquiry("y", "y", t), inquiry("z", "z", t - timedelta(days=9))]
    old = D - timedelta(days=20)
    orders = [order("ox", "x", old), order("oy", "y", D)]
    items = [item("ox", "shoe"), item("oy", "shoe")]
    tables = make_tables(
        customers=[customer(c) for c in "xyz"],
        products=[product("shoe", "shoes", "Ace", "700.00")],
        events=events,
        orders=orders,
        order_items=items,
    )
    definition = Sequence(
        first=Activity(
            source="product_inquiry", window=Within(duration=Duration(amount=7, unit="d"))
        ),
        then=Activity(source="order_items"),
        followed=False,
        match=(("product_id", "product_id"),),
    )
    assert evaluate({"interested": definition}, catalog, settings, tables) == {"interested": {"x"}}


@pytest.mark.parametrize(
    ("bounds", "floor"),
    [
        (Bounds(), None),
        (Bounds(ts_lo=datetime(2024, 5, 3, 7, 30)), datetime(2024, 5, 3, 7, 30)),
        (Bounds(date_lo=date(2024, 5, 3)), datetime(2024, 5, 3) - LOCAL_DATE_MARGIN),
        (
            Bounds(date_lo=date(2024, 5, 3), ts_lo=datetime(2024, 5, 4, 1)),
            datetime(2024, 5, 4, 1),
        ),
        (Bounds(date_hi=date(2024, 5, 3)), None),
    ],
)
def test_floors(bounds: Bounds, floor: datetime | None) -> None:
    settings = WorkspaceSettings()
    features = Features(build_catalog(settings), settings, {}, Clock(AS_OF, "UTC"))
    assert features._floor(bounds) == floor


def test_a_local_date_floor_keeps_records_of_zones_ahead_of_utc(
    catalog: Catalog, settings: WorkspaceSettings, make_tables: MakeTables
) -> None:
    """local_date 3 May in UTC+14 is 2 May 10:00 UTC: within 7 days of D (10 May) still."""
    at = datetime(2024, 5, 2, 10, 0)
    early = {**order("o", "a", date(2024, 5, 3)), "ordered_at": at}
    tables = make_tables(customers=[customer("a")], orders=[early])
    definition = Aggregate(
        activity=Activity(source="orders", window=Within(duration=Duration(amount=7, unit="d"))),
        comparison=cmp("gte", 1),
    )
    assert datetime(2024, 5, 3) - LOCAL_DATE_MARGIN == at
    assert evaluate({"recent": definition}, catalog, settings, tables) == {"recent": {"a"}}
    assert AS_OF.tzinfo is UTC
