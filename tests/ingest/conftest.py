"""Ingest fixtures: file writers and a helper to run the import command in a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

#: ibis 12 calls DuckDB's deprecated fetch_arrow_table(); not ours to fix (see the report).
_IBIS_DUCKDB_DEPRECATION = "ignore:fetch_arrow_table.. is deprecated:DeprecationWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings(_IBIS_DUCKDB_DEPRECATION))


@pytest.fixture
def write(tmp_path: Path) -> Iterator[Any]:
    def _write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return _write
