"""Opening a workspace: the data engine, the app store, its settings and catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis

from segmentum.catalog.schema import Catalog, build_catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.engine.connection import Engine, connect, ensure_schema
from segmentum.ingest.local_dates import rederive_local_dates
from segmentum.store.database import AppStore, open_store
from segmentum.store.migrations import migrate
from segmentum.store.workspace_settings import load_settings, save_settings


@dataclass
class Workspace:
    engine: Engine
    store: AppStore
    settings: WorkspaceSettings
    catalog: Catalog
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, db: str | None = None, app_db: str | None = None) -> Workspace:
        engine = connect(db)
        store = open_store(app_db, engine)
        migrate(store)
        settings = load_settings(store)
        catalog = build_catalog(settings)
        ensure_schema(engine, catalog)
        return cls(engine, store, settings, catalog)

    def update_settings(self, settings: WorkspaceSettings) -> None:
        """Persist new settings and extend the tables with newly declared attributes.

        A timezone change re-derives every local date (orders, returns, events, signups).
        """
        catalog = build_catalog(settings)
        ensure_schema(self.engine, catalog)
        if settings.timezone != self.settings.timezone:
            rederive_local_dates(self.engine, catalog, settings.timezone)
        save_settings(self.store, settings)
        self.settings = settings
        self.catalog = catalog

    def tables(self) -> dict[str, ibis.Table]:
        """Ibis tables of the catalog (plus manual lists) on the data engine, for the compiler."""
        names = [*self.catalog.tables, "manual_list_members"]
        return {name: self.engine.table(name) for name in names}

    def close(self) -> None:
        self.engine.close()
