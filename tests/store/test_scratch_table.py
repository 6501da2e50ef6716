"""``store.database.scratch_table``: an emptied temporary table that does not grow the
process (DuckDB never gives back the deleted rows of an in-memory temporary table, which
made the real-time server's memory grow with every micro-batch)."""

from __future__ import annotations

import duckdb

from segmentum.engine.connection import EngineKind
from segmentum.store.database import AppStore, scratch_table

ROWS = 30_000


def _memory(store: AppStore) -> int:
    return int(store.scalar("SELECT sum(memory_usage_bytes) FROM duckdb_memory()") or 0)


def test_a_scratch_table_used_again_and_again_stays_the_size_of_one_use() -> None:
    store = AppStore(EngineKind.DUCKDB, duckdb.connect(), ":memory:")
    sizes = []
    for use in range(40):
        with store.transaction():
            scratch_table(store, "scratch", "customer_id TEXT, n BIGINT")
            store.execute(
                "INSERT INTO scratch SELECT 'C' || (i + ?)::VARCHAR, i FROM range(?) r(i)",
                (use, ROWS),
            )
        assert store.scalar("SELECT count(*) FROM scratch") == ROWS
        assert store.scalar("SELECT customer_id FROM scratch WHERE n = 0") == f"C{use}"
        sizes.append(_memory(store))
    # emptied by DELETE instead, the 40th use held 40 uses' rows (about 40x the first)
    assert sizes[-1] <= 2 * sizes[0]
