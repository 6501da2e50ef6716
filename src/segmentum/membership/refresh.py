"""Full refresh: every segment in one pass, members diffed into the log.

The engine evaluates all definitions at once (``compile_segments``); the wide result is
unpivoted in the engine to (segment, customer_id) rows of members only, which stream back as
Arrow batches into the app store, where set-based SQL computes entries and exits. When the app
store is the engine's own DuckDB connection, the rows never leave it (``stage_in_engine``).
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
#: The evaluated definitions, one boolean column per segment (a temporary table).
WIDE = "membership_wide"


def member_rows(wide: ibis.Table) -> ibis.Table:
    """(segment, customer_id) for every member in ``wide`` (``compile_segments``: one
    boolean column per segment), unpivoted in the engine."""
    long = wide.pivot_longer(~s.cols("customer_id"), names_to="segment", values_to="member")
    return long.filter(long.member).select("segment", "customer_id")


def stage_in_engine(wide: ibis.Table, engine: Engine) -> None:
    """Fill the staging table of a DuckDB engine that is also the app store with the members
    in ``wide`` (``compile_segments``).

    The wide result is stored once, then each segment's members are one filtered scan of
    it, all in one ``UNION ALL``: 4.2M members of 33 segments over 1M customers in 0.08 s,
    where unpivoting every (customer, segment) pair (33M rows) and keeping the members took
    ~1 s of CPU. (On an engine that does not store a subexpression once, the union would
    evaluate the definitions once per segment: ``member_rows`` unpivots instead.)"""
    backend = engine.backend
    backend.create_table(WIDE, wide, temp=True, overwrite=True)
    try:
        stored = backend.table(WIDE)
        members = ibis.union(
            *[
                stored.filter(stored[name]).select(
                    segment=ibis.literal(name, type="string"), customer_id=stored.customer_id
                )
                for name in stored.columns
                if name != "customer_id"
            ],
            distinct=False,
        )
        backend.create_table(STAGING, members, temp=True, overwrite=True)
    finally:
        backend.drop_table(WIDE, force=True)


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
    wide = compile_segments(definitions, catalog, settings, tables, as_of)
    if engine.kind is EngineKind.DUCKDB and store.connection is engine.backend.con:
        # Same DuckDB connection: stage inside the engine; the rows never leave it.
        stage_in_engine(wide, engine)
        return apply_refresh(store, None, MEMBER_SCHEMA, dict(versions), as_of, now)
    rows = member_rows(wide)
    batches = (
        batch.cast(MEMBER_SCHEMA) for batch in rows.to_pyarrow_batches(chunk_size=BATCH_ROWS)
    )
    return apply_refresh(store, batches, MEMBER_SCHEMA, dict(versions), as_of, now)
