"""The demo loaded through the importers, and the `demo` commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentum.catalog.types import ValueType
from segmentum.service.demo import describe_base, load_demo, shop_config
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace
from tests.demo.conftest import SMALL

Cli = Callable[..., tuple[int, str, str]]


def _expected_base(shop: dict[str, pa.Table]) -> dict[str, object]:
    orders = shop["orders"].to_pylist()
    purchases = [o for o in orders if o["status"] != "cancelled"]
    subscriptions = shop["subscriptions"].to_pylist()
    return {
        "customers": shop["customers"].num_rows,
        "buyers": len({o["customer_id"] for o in purchases}),
        "orders": len(orders),
        "revenue": sum((o["amount"] for o in purchases), start=Decimal("0.00")),
        "email": sum(
            1 for s in subscriptions if s["channel"] == "email" and s["status"] == "opted_in"
        ),
    }


def test_load_demo_imports_every_row(workspace: Workspace, shop: dict[str, pa.Table]) -> None:
    steps: list[str] = []
    result = load_demo(workspace, SMALL, progress=steps.append)
    assert result.rejected == 0
    assert [(s.table, s.loaded) for s in result.imports] == [
        (name, table.num_rows) for name, table in shop.items()
    ]
    assert steps[0] == "generating"
    assert steps[-1] == "importing subscriptions"
    assert workspace.settings.timezone == "Europe/Prague"
    assert workspace.settings.currency == "CZK"
    assert workspace.settings.customer_attributes == {
        "has_children": ValueType.BOOL,
        "clothing_size": ValueType.TEXT,
        "preferred_drive": ValueType.TEXT,
    }
    base = result.base
    expected = _expected_base(shop)
    assert base.customers == expected["customers"] == 300
    assert base.buyers == expected["buyers"] == 239
    assert base.never_bought == 61
    assert base.orders == expected["orders"]
    assert base.revenue == expected["revenue"]
    assert base.subscribers["email"] == expected["email"]
    assert base.currency == "CZK"
    assert base.first_order_at is not None
    assert base.first_order_at.tzinfo is not None
    assert base.last_order_at is not None
    assert base.last_order_at < SMALL.end
    assert [code for code, _ in base.countries][:2] == ["CZ", "PL"]
    assert sum(n for _, n in base.countries) == 300


def test_loading_twice_needs_replace(workspace: Workspace) -> None:
    load_demo(workspace, SMALL)
    with pytest.raises(ServiceError, match="already has 300 customers"):
        load_demo(workspace, SMALL)
    result = load_demo(workspace, SMALL, replace=True)
    assert result.rejected == 0
    assert describe_base(workspace) == result.base
    assert result.base.customers == 300


def test_shop_config_ends_at_the_end_of_the_day_in_prague() -> None:
    config = shop_config(customers=10, end=date(2026, 11, 23), seed=5)
    assert config.end == datetime(2026, 11, 23, 22, 59, 59, 999999, tzinfo=UTC)
    assert config.end_s == int(datetime(2026, 11, 23, 22, 59, 59, tzinfo=UTC).timestamp())
    with pytest.raises(ServiceError, match="--customers"):
        shop_config(customers=0)


def test_cli_demo_loads_and_summarises(tmp_path: Path, cli: Cli) -> None:
    db = str(tmp_path / "demo.duckdb")
    args = ("--db", db, "demo", "--customers", "300", "--end", "2026-11-23", "--seed", "42")
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["customers"] == 300
    assert summary["never_bought"] == summary["customers"] - summary["buyers"]
    assert summary["currency"] == "CZK"
    assert set(summary["subscribers"]) == {"sms", "email", "web_push"}
    code, _, err = cli(*args)
    assert code == 1
    assert err.startswith("error: the workspace already has 300 customers")
    code, out, err = cli(*args, "--replace")
    assert code == 0
    assert "never bought" in out
    assert "segmentum customers show" in err
    code, out, _ = cli("--db", db, "customers", "show", "C000001", "--format", "json")
    assert code == 0
    assert json.loads(out)["customer_id"] == "C000001"


def test_cli_generate_writes_parquet_files(tmp_path: Path, cli: Cli) -> None:
    out_dir = tmp_path / "bench"
    code, out, err = cli(
        "demo",
        "generate",
        "--customers",
        "200",
        "--orders",
        "1000",
        "--end",
        "2026-11-23",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    names = sorted(Path(line).name for line in out.splitlines())
    assert names == sorted(
        f"{t}.parquet"
        for t in (
            "products",
            "customers",
            "orders",
            "order_items",
            "returns",
            "events",
            "subscriptions",
        )
    )
    assert pq.read_metadata(out_dir / "customers.parquet").num_rows == 200
    assert abs(pq.read_metadata(out_dir / "orders.parquet").num_rows - 1000) <= 60


def test_cli_rejects_bad_options(tmp_path: Path) -> None:
    """Click's usage errors (exit 2), through the Typer app in standalone mode."""
    from typer.testing import CliRunner

    from segmentum.cli.app import app

    runner = CliRunner()
    for args in (
        ["demo", "generate", "--customers", "0", "--out", str(tmp_path)],
        ["demo", "generate", "--end", "23.11.2026", "--out", str(tmp_path)],
        ["demo", "generate"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
