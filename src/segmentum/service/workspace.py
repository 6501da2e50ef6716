"""Opening a workspace: the data engine, the app store, its settings and catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import pyarrow as pa

from segmentum.catalog.schema import Catalog, build_catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler.predictive import PREDICTIONS_TABLE
from segmentum.engine.check import MappingError, mapped_tables
from segmentum.engine.connection import Engine, connect, ensure_schema
from segmentum.engine.mapped import native_catalog
from segmentum.ingest.local_dates import derived_dates, rederive_local_dates
from segmentum.service.errors import ServiceError
from segmentum.store.database import AppStore, open_store
from segmentum.store.migrations import migrate
from segmentum.store.workspace_settings import load_settings, save_settings

MANUAL_LIST_SCHEMA = pa.schema([("list_name", pa.string()), ("customer_id", pa.string())])


@dataclass
class Workspace:
    engine: Engine
    store: AppStore
    settings: WorkspaceSettings
    catalog: Catalog
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def store_shares_engine(self) -> bool:
        """True when the app store is the data engine's own connection (the default)."""
        return self.store.connection is getattr(self.engine.backend, "con", None)

    @classmethod
    def open(cls, db: str | None = None, app_db: str | None = None) -> Workspace:
        engine = connect(db)
        store = open_store(app_db, engine)
        migrate(store)
        settings = load_settings(store)
        catalog = build_catalog(settings)
        # Mapped tables (warehouse mode) belong to the business: never created or altered.
        ensure_schema(engine, native_catalog(catalog, settings.table_mappings))
        return cls(engine, store, settings, catalog)

    def update_settings(self, settings: WorkspaceSettings) -> None:
        """Persist new settings and extend the tables with newly declared attributes.

        A timezone change re-derives every local date (orders, returns, events, signups).
        """
        catalog = build_catalog(settings)
        native = native_catalog(catalog, settings.table_mappings)
        ensure_schema(self.engine, native)
        if settings.timezone != self.settings.timezone and derived_dates(native):
            # mapped tables derive their local dates at query time: nothing stored to redo
            rederive_local_dates(self.engine, native, settings.timezone)
        save_settings(self.store, settings)
        self.settings = settings
        self.catalog = catalog

    def tables(self) -> dict[str, ibis.Table]:
        """Ibis tables of the catalog (plus manual lists) on the data engine, for the compiler.

        Manual lists live in the app store; when that is another database they travel to the
        engine as an in-memory table (lists are uploaded by hand, so they are small).
        Mapped tables (warehouse mode) are projections over their sources, checked first:
        a mapping that does not fit the live schema raises ``ServiceError`` naming every
        problem, so nothing is evaluated over it.
        """
        mappings = self.settings.table_mappings
        tables = {
            name: self.engine.table(name) for name in self.catalog.tables if name not in mappings
        }
        if mappings:
            tables.update(self._mapped())
        if self.engine.has_table(PREDICTIONS_TABLE):  # written by `segmentum clv`
            tables[PREDICTIONS_TABLE] = self.engine.table(PREDICTIONS_TABLE)
        if self.store_shares_engine:
            tables["manual_list_members"] = self.engine.table("manual_list_members")
        else:
            rows = self.store.query("SELECT list_name, customer_id FROM manual_list_members")
            frame = pa.Table.from_pylist(rows, schema=MANUAL_LIST_SCHEMA)
            tables["manual_list_members"] = ibis.memtable(frame)
        return tables

    def table(self, name: str) -> ibis.Table:
        """One catalog table as the compiler sees it (mapped tables included): every read of
        customer data goes through here, so warehouse mode works for every use case."""
        return self.tables_named(name)[name]

    def tables_named(self, *names: str) -> dict[str, ibis.Table]:
        """Several catalog tables at once: a use case reading many resolves the mapping (one
        schema lookup per mapped source) once, not once per table."""
        mappings = self.settings.table_mappings
        mapped = self._mapped() if any(name in mappings for name in names) else {}
        return {name: mapped[name] if name in mappings else self.engine.table(name)
                for name in names}  # fmt: skip

    def _mapped(self) -> Mapping[str, ibis.Table]:
        try:
            return mapped_tables(self.engine, self.catalog, self.settings)
        except MappingError as error:
            raise ServiceError(
                f"{error} (run `segmentum workspace check`; nothing was evaluated)"
            ) from error

    def close(self) -> None:
        if not self.store_shares_engine:
            self.store.connection.close()
        self.engine.close()
