"""Shared fixtures: a fresh workspace per test on a temporary DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from segmentum.service.workspace import Workspace

pytest_plugins = ["tests.engine_fixtures"]


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.open(str(tmp_path / "test.duckdb"))
    yield ws
    ws.close()
