"""A small demo shop shared by the generator tests (generated once per session)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest

from segmentum.demo.generate import ShopConfig, generate_shop

END = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
SMALL = ShopConfig(end=END, customers=300, seed=42)


@pytest.fixture(scope="session")
def shop() -> dict[str, pa.Table]:
    return generate_shop(SMALL)


@pytest.fixture
def sql(shop: dict[str, pa.Table]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the generated tables registered, for checks in SQL."""
    con = duckdb.connect()
    for name, table in shop.items():
        con.register(name, table)
    return con


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """Run ``segmentum ARGS`` in-process like the console script: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        from segmentum.cli.app import main

        monkeypatch.setattr(sys, "argv", ["segmentum", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
