"""App stores for tests that run one case table on DuckDB and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from segmentum.engine.connection import EngineKind
from segmentum.service.workspace import Workspace
from segmentum.store.database import AppStore, open_store
from segmentum.store.migrations import migrate


def duckdb_store(workspace: Workspace, engine_factory: Callable[..., Any]) -> AppStore:
    """The workspace's own store (the DuckDB file)."""
    return workspace.store


def postgres_store(workspace: Workspace, engine_factory: Callable[..., Any]) -> AppStore:
    """A migrated app store on a fresh PostgreSQL database (``engine_factory``)."""
    store = open_store(None, engine_factory(EngineKind.POSTGRES))
    migrate(store)
    return store


def rows(store: AppStore, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in store.query(sql)]
