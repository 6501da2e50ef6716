"""Claiming due ledger rows in large batches without re-sorting the whole ledger each time.

DuckDB (one process holds the file): a claim walks the ledger in physical order with a rowid
cursor. ``SELECT rowid ... WHERE rowid > cursor AND <due> ORDER BY rowid LIMIT n`` finds the
claim's rowid range reading only the narrow status columns; the message columns are then
read from that range alone (``rowid BETWEEN first AND last``, which DuckDB prunes to the row
groups holding it), and marking the claim is one range
``UPDATE ... WHERE rowid BETWEEN first AND last AND <due>``: inside the transaction the rows
matching the predicate in that range are exactly the ones selected. A sweep that comes back
short resets the cursor, so rows that became due behind it (a retry, a deferral, a new
occurrence) are found by the next sweep. Nothing is skipped: a row leaves ``queued`` /
``sending`` only when its answer is recorded.

PostgreSQL (several workers): ``FOR UPDATE SKIP LOCKED`` in the store (`claim_due`), which
uses the ``next_attempt_at`` order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from segmentum.engine.connection import EngineKind
from segmentum.store import campaigns as campaign_store
from segmentum.store.database import AppStore

CLAIMED_COLUMNS = (
    "message_key", "campaign_id", "occurrence", "customer_id", "channel", "recipient",
    "country", "subject", "body", "html", "attempts", "segment", "variant",
)  # fmt: skip
_DUE = (
    "source = 'campaign' AND status IN ('queued', 'sending') "
    "AND campaign_id IN (SELECT campaign_id FROM campaigns WHERE state = 'sending') "
    "AND ((status = 'queued' AND next_attempt_at <= ?) OR "
    "(status = 'sending' AND claimed_at < ?))"
)
_views = itertools.count()


def fetch_arrow(result: Any) -> pa.Table:
    """A DuckDB result as an Arrow table (``to_arrow_table`` where it exists)."""
    method = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    table: pa.Table = method()
    return table


@dataclass
class Claim:
    """One claimed batch: the rows, and (DuckDB) the rowid range they came from."""

    rows: pa.Table
    first_rowid: int | None = None
    last_rowid: int | None = None


@dataclass
class Claimer:
    store: AppStore
    worker_id: str
    lease_seconds: int = 120
    _cursor: int = -1

    def reset(self) -> None:
        self._cursor = -1

    def claim(self, now: datetime, limit: int) -> Claim:
        naive_now = campaign_store.naive(now)
        if self.store.kind is not EngineKind.DUCKDB:
            rows = campaign_store.claim_due(
                self.store, self.worker_id, now, limit, self.lease_seconds
            )
            return Claim(pa.Table.from_pylist(rows) if rows else pa.table({}))
        stale = naive_now - timedelta(seconds=self.lease_seconds)
        claim = self._claim_duckdb(naive_now, stale, limit)
        if claim.rows.num_rows < limit:
            self.reset()  # the sweep reached the end: the next claim starts over
            if claim.rows.num_rows == 0:
                claim = self._claim_duckdb(naive_now, stale, limit)
                if claim.rows.num_rows < limit:
                    self.reset()
        return claim

    def _claim_duckdb(self, now: datetime, stale: datetime, limit: int) -> Claim:
        connection = self.store.connection
        with self.store.transaction():
            # Two steps: the top-N on rowid reads only the narrow status columns of the rows
            # after the cursor (selecting the message columns there made DuckDB read every
            # remaining row's text, O(ledger) per claim); the message columns are then read
            # from the claimed rowid range only.
            span = self._span(now, stale, limit)
            if span is None:
                return Claim(pa.table({}))
            first, last = span
            claimed = fetch_arrow(
                connection.execute(
                    f"SELECT {', '.join(CLAIMED_COLUMNS)} FROM send_ledger "
                    f"WHERE rowid BETWEEN ? AND ? AND {_DUE} ORDER BY rowid",
                    [first, last, now, stale],
                )
            )
            connection.execute(
                "UPDATE send_ledger SET status = 'sending', claimed_by = ?, claimed_at = ? "
                f"WHERE rowid BETWEEN ? AND ? AND {_DUE}",
                [self.worker_id, now, first, last, now, stale],
            )
        self._cursor = last
        return Claim(claimed, first, last)

    def _span(self, now: datetime, stale: datetime, limit: int) -> tuple[int, int] | None:
        """The rowids of the first and the last of the next ``limit`` due rows after the
        cursor. The search looks in a window past the cursor first (due rows are mostly
        contiguous: one occurrence is inserted at once), widening it until ``limit`` rows are
        found or it covers the rest of the ledger, so a claim reads O(batch) rows."""
        connection = self.store.connection
        window = 2 * limit
        end: int | None = None
        while True:
            upper = self._cursor + window
            first, last, found = connection.execute(
                "SELECT min(r), max(r), count(*) FROM (SELECT rowid AS r FROM send_ledger "
                f"WHERE rowid > ? AND rowid <= ? AND {_DUE} ORDER BY rowid LIMIT ?)",
                [self._cursor, upper, now, stale, limit],
            ).fetchone()
            if found < limit:
                if end is None:
                    last_row = "SELECT coalesce(max(rowid), -1) FROM send_ledger"
                    end = int(connection.execute(last_row).fetchone()[0])
                if upper < end:
                    window *= 8
                    continue
            return None if first is None else (int(first), int(last))


def record_answers(store: AppStore, results: pa.Table, claim: Claim) -> None:
    """Apply the answers of one claim; on DuckDB only the claim's rowid range is scanned."""
    if results.num_rows == 0:
        return
    if store.kind is not EngineKind.DUCKDB or claim.first_rowid is None:
        campaign_store.record_results(store, results)
        return
    view = f"ledger_answers_{next(_views)}"
    store.connection.register(view, results)
    try:
        updated = store.connection.execute(
            "UPDATE send_ledger SET status = r.status, attempts = r.attempts, "
            "next_attempt_at = r.next_attempt_at, "
            "provider_message_id = coalesce(r.provider_message_id, "
            "send_ledger.provider_message_id), error = r.error, "
            "sent_at = coalesce(r.sent_at, send_ledger.sent_at), updated_at = r.updated_at, "
            f"claimed_by = NULL FROM {view} r WHERE send_ledger.rowid BETWEEN ? AND ? "
            "AND send_ledger.message_key = r.message_key",
            [claim.first_rowid, claim.last_rowid],
        ).fetchone()
    finally:
        store.connection.unregister(view)
    if updated is None or int(updated[0]) < results.num_rows:
        # a row moved (an update of an indexed column rewrites it): match by key everywhere
        campaign_store.record_results(store, results)
