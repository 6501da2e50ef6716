"""`check_mapping`: every mismatch named at once, on every engine; settings validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from segmentum.catalog.mapping import ParquetSource, TableMapping
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.engine.check import MappingError, check_mapping, mapped_tables
from tests.corpus.shop import CATALOG
from tests.warehouse.business import CUSTOMER_COLUMNS, clients
from tests.warehouse.conftest import MappedShop


def _problems(shop: MappedShop, settings: WorkspaceSettings, data: bool = True) -> set[Any]:
    found = check_mapping(shop.engine, CATALOG, settings, data=data)
    return {(p.table, p.column, p.kind) for p in found}


def test_good_mapping_has_no_problem(mapped_shop: MappedShop) -> None:
    assert check_mapping(mapped_shop.engine, CATALOG, mapped_shop.settings) == []


def broken(settings: WorkspaceSettings) -> WorkspaceSettings:
    mappings = dict(settings.table_mappings)
    customers = mappings["customers"]
    mappings["customers"] = customers.model_copy(
        update={"columns": {**customers.columns, "customer_id": "client_id"}}
    )
    orders = mappings["orders"]
    mappings["orders"] = orders.model_copy(
        update={
            "columns": {
                **orders.columns,
                "amount": "currency",  # text cannot become money
                "ordered_at": "shop_name",  # text cannot become a timestamp
                "store": "branch",  # no such source column
                "local_date": "txn_ts",  # derived: never mapped
                "colour": "shop_name",  # not a catalog column
            }
        }
    )
    mappings["order_items"] = TableMapping(source="nowhere.lines")
    return settings.model_copy(update={"table_mappings": mappings})


EXPECTED_BROKEN = {
    ("customers", "customer_id", "missing_column"),
    ("orders", "amount", "wrong_type"),
    ("orders", "ordered_at", "wrong_type"),
    ("orders", "store", "missing_column"),
    ("orders", "local_date", "derived_column"),
    ("orders", "colour", "unknown_column"),
    ("order_items", None, "missing_source"),
}


def test_every_problem_is_named_at_once(mapped_shop: MappedShop) -> None:
    settings = broken(mapped_shop.settings)
    assert _problems(mapped_shop, settings) == EXPECTED_BROKEN
    with pytest.raises(MappingError) as raised:
        mapped_tables(mapped_shop.engine, CATALOG, settings)
    assert len(raised.value.problems) == len(EXPECTED_BROKEN)
    message = str(raised.value)
    for needle in ("customers.customer_id", "orders.amount", "order_items", "'client_id'"):
        assert needle in message


def test_problem_says_expected_and_found(mapped_shop: MappedShop) -> None:
    found = check_mapping(mapped_shop.engine, CATALOG, broken(mapped_shop.settings))
    amount = next(p for p in found if p.column == "amount")
    assert amount.expected.startswith("money")
    assert "string" in amount.found
    assert "cannot become money" in amount.message


def test_optional_columns_may_be_declared_absent(mapped_shop: MappedShop) -> None:
    mappings = dict(mapped_shop.settings.table_mappings)
    orders = mappings["orders"]
    absent = orders.model_copy(update={"columns": {**orders.columns, "store": "branch"}})
    mappings["orders"] = absent.model_copy(update={"fill_missing": True})
    settings = mapped_shop.settings.model_copy(update={"table_mappings": mappings})
    assert check_mapping(mapped_shop.engine, CATALOG, settings) == []
    stores = mapped_tables(mapped_shop.engine, CATALOG, settings)["orders"].store
    assert stores.isnull().all().to_pyarrow().as_py()
    required = orders.model_copy(update={"columns": {**orders.columns, "amount": None}})
    mappings["orders"] = required
    settings = mapped_shop.settings.model_copy(update={"table_mappings": mappings})
    assert _problems(mapped_shop, settings, data=False) == {("orders", "amount", "missing_column")}


def test_floating_money_is_refused(mapped_shop: MappedShop) -> None:
    import ibis.expr.datatypes as dt

    from segmentum.catalog.types import ValueType
    from segmentum.engine.mapped import conversion_problem

    assert conversion_problem(dt.float64, ValueType.MONEY) is not None
    assert conversion_problem(dt.Decimal(12, 3), ValueType.MONEY) is None
    assert conversion_problem(dt.Decimal(38, 2), ValueType.MONEY) is not None
    assert conversion_problem(dt.int32, ValueType.TEXT) is None
    assert conversion_problem(dt.string, ValueType.INTEGER) is not None


def test_null_and_duplicate_keys_are_counted(mapped_shop: MappedShop, tmp_path: Path) -> None:
    """A dirty copy of the clients: one id twice, one NULL id (data checks only)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = clients()
    ids = data.column("client_ref").to_pylist()
    ids[1] = ids[0]
    ids[2] = None
    dirty = data.set_column(0, "client_ref", pa.array(ids, pa.string()))
    folder = tmp_path / "dirty"
    folder.mkdir()
    pq.write_table(dirty, folder / "clients.parquet")
    mappings = dict(mapped_shop.settings.table_mappings)
    if mapped_shop.kind == "postgres":
        name = "crm_dirty"
        mapped_shop.engine.raw_sql(
            f"CREATE TABLE {name} AS SELECT * FROM {_pg_clients(mapped_shop)}"
        )
        mapped_shop.engine.raw_sql(
            f"UPDATE {name} SET client_ref = (SELECT min(client_ref) FROM {name}) "
            "WHERE client_ref = 'c02'"
        )
        mapped_shop.engine.raw_sql(f"UPDATE {name} SET client_ref = NULL WHERE client_ref = 'c03'")
        source: str | ParquetSource = name
    else:
        source = ParquetSource(parquet=str(folder))
    mappings["customers"] = TableMapping(source=source, columns=CUSTOMER_COLUMNS)
    settings = mapped_shop.settings.model_copy(update={"table_mappings": mappings})
    assert _problems(mapped_shop, settings) == {
        ("customers", "customer_id", "null_key"),
        ("customers", "customer_id", "duplicate_key"),
    }
    assert _problems(mapped_shop, settings, data=False) == set()  # metadata only


def _pg_clients(shop: MappedShop) -> str:
    return str(shop.settings.table_mappings["customers"].source)


def test_postgres_cannot_read_parquet(mapped_shop: MappedShop, tmp_path: Path) -> None:
    if mapped_shop.kind != "postgres":
        pytest.skip("PostgreSQL only")
    mappings = dict(mapped_shop.settings.table_mappings)
    mappings["orders"] = TableMapping(source=ParquetSource(parquet=str(tmp_path)))
    settings = mapped_shop.settings.model_copy(update={"table_mappings": mappings})
    found = check_mapping(mapped_shop.engine, CATALOG, settings)
    assert [(p.table, p.kind) for p in found] == [("orders", "missing_source")]
    assert "PostgreSQL cannot read Parquet" in found[0].found


def test_settings_refuse_unknown_tables_and_bad_sources() -> None:
    with pytest.raises(ValidationError, match="not a catalog table"):
        WorkspaceSettings(table_mappings={"invoices": TableMapping(source="sales.invoices")})
    with pytest.raises(ValidationError, match=r"schema\.table"):
        TableMapping(source="sales.invoices; DROP TABLE x")
    assert WorkspaceSettings().table_mappings == {}
    loaded = WorkspaceSettings.model_validate(
        {
            "table_mappings": {
                "orders": {
                    "source": {"parquet": "/data/orders/"},
                    "columns": {"ordered_at": "txn_ts", "amount": "total_czk", "store": None},
                }
            }
        }
    )
    orders = loaded.table_mappings["orders"]
    assert orders.parquet is not None
    assert orders.parquet.hive_partitioning
    assert orders.source_column("ordered_at") == "txn_ts"
    assert orders.source_column("status") == "status"
    assert orders.source_column("store") is None
