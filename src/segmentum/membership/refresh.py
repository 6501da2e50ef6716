"""Full refresh: every segment in one pass, members diffed into the log.

The engine evaluates all definitions at once (``compile_segments``); the wide result is
unpivoted in the engine to (segment, customer_id) rows of members only, which stream back as
Arrow batches into the app store, where set-based SQL computes entries and exits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import ibis
import ibis.selectors as s
import pyarrow as pa

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.compiler import compile_segments
from segmentum.engine.connection import Engine, EngineKind
from segmentum.spec.nodes import Node
from segmentum.store.database import AppStore
from segmentum.store.membership import STAGING, SegmentChange, apply_refresh

MEMBER_SCHEMA = pa.schema([("segment", pa.string()), ("customer_id", pa.string())])
BATCH_ROWS = 250_000


def member_rows(
    definitions: Mapping[str, Node],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, ibis.Table],
    as_of: datetime,
) -> ibis.Table:
    """(segment, customer_id) for every member of every definition, one engine pass."""
    wide = compile_segments(definitions, catalog, settings, tables, as_of)
    long = wide.pivot_longer(~s.cols("customer_id"), names_to="segment", values_to="member")
    return long.filter(long.member).select("segment", "customer_id")


def refresh(
    store: AppStore,
    definitions: Mapping[str, Node],
    versions: Mapping[str, int],
    catalog: Catalog,
    settings: WorkspaceSettings,
    tables: Mapping[str, ibis.Table],
    as_of: datetime,
    now: datetime,
    engine: Engine,
) -> list[SegmentChange]:
    if not definitions:
        return apply_refresh(store, iter(()), MEMBER_SCHEMA, dict(versions), as_of, now)
    rows = member_rows(definitions, catalog, settings, tables, as_of)
    if engine.kind is EngineKind.DUCKDB and store.connection is engine.backend.con:
        # Same DuckDB connection: stage inside the engine; the rows never leave it.
        engine.backend.create_table(STAGING, rows, temp=True, overwrite=True)
        return apply_refresh(store, None, MEMBER_SCHEMA, dict(versions), as_of, now)
    batches = (
        batch.cast(MEMBER_SCHEMA) for batch in rows.to_pyarrow_batches(chunk_size=BATCH_ROWS)
    )
    return apply_refresh(store, batches, MEMBER_SCHEMA, dict(versions), as_of, now)
