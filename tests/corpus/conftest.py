"""The engine fixture of the corpus: one connection per engine, loaded with the shop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.corpus.engines import ENGINES, EngineWorkspace, connect
from tests.corpus.shop import CATALOG, DATA


@pytest.fixture(scope="module", params=ENGINES)
def engine_workspace(request: pytest.FixtureRequest) -> Iterator[EngineWorkspace]:
    """An engine with the catalog tables, holding the hand-built shop."""
    workspace = connect(request.param, CATALOG)
    workspace.load(DATA)
    yield workspace
    workspace.close()
