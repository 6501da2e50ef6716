"""``ingest.merge`` with key lookups (the real-time intake): when the key is indexed and the
incoming keys are few, stored rows are found by index lookups; the counts and the table
afterwards are exactly those of the join over the whole table, on every path."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import pytest

from segmentum.catalog.tables import EVENTS
from segmentum.ingest import merge as merge_module
from segmentum.ingest.merge import MergeCounts, merge

COLUMNS = ["event_id", "customer_id", "type", "occurred_at"]
AT = datetime(2026, 6, 1, 12, 0)
LATER = datetime(2026, 6, 2, 12, 0)

Row = tuple[str, str, str, datetime]
STORED: list[Row] = [(f"e{n}", f"C{n}", "page_view", AT) for n in range(1, 6)]

# (case, incoming rows, expected counts, expected table afterwards, expected path)
CASES: list[tuple[str, list[Row], MergeCounts, list[Row], str]] = [
    (
        "only new keys: matched against nothing",
        [("n1", "C1", "cart_updated", LATER), ("n2", "C9", "page_view", LATER)],
        MergeCounts(loaded=2, updated=0, unchanged=0),
        [*STORED, ("n1", "C1", "cart_updated", LATER), ("n2", "C9", "page_view", LATER)],
        "nothing",
    ),
    (
        "a changed, an unchanged and a new key: the two stored rows fetched by key",
        [
            ("e1", "C1", "cart_updated", AT),
            ("e2", "C2", "page_view", AT),
            ("n1", "C3", "page_view", LATER),
        ],
        MergeCounts(loaded=1, updated=1, unchanged=1),
        [("e1", "C1", "cart_updated", AT), *STORED[1:], ("n1", "C3", "page_view", LATER)],
        "by key",
    ),
    (
        "more matches than are fetched by key: the join",
        [(f"e{n}", f"C{n}", "page_view", LATER) for n in range(1, 5)],
        MergeCounts(loaded=0, updated=4, unchanged=0),
        [*[(f"e{n}", f"C{n}", "page_view", LATER) for n in range(1, 5)], STORED[4]],
        "join",
    ),
]


def _connection(indexed: bool) -> Any:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE events (event_id TEXT, customer_id TEXT, type TEXT, "
        "occurred_at TIMESTAMP, properties JSON, local_date DATE)"
    )
    con.executemany(f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?)", STORED)
    if indexed:
        con.execute("CREATE INDEX rt_events_event_id ON events (event_id)")
    return con


def _incoming(con: Any, rows: list[Row]) -> None:
    con.execute(
        "CREATE TEMP TABLE incoming (event_id TEXT, customer_id TEXT, type TEXT, "
        "occurred_at TIMESTAMP)"
    )
    con.executemany("INSERT INTO incoming VALUES (?, ?, ?, ?)", rows)


def _table(con: Any) -> list[Row]:
    return [
        tuple(row)
        for row in con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM events ORDER BY event_id"
        ).fetchall()
    ]


@pytest.mark.parametrize(
    ("incoming", "counts", "after", "path"),
    [pytest.param(i, c, a, p, id=name) for name, i, c, a, p in CASES],
)
@pytest.mark.parametrize(("indexed", "lookups"), [(True, 5_000), (False, 5_000), (True, 0)])
def test_merge_gives_the_same_rows_and_counts_on_every_path(
    monkeypatch: pytest.MonkeyPatch,
    incoming: list[Row],
    counts: MergeCounts,
    after: list[Row],
    path: str,
    indexed: bool,
    lookups: int,
) -> None:
    monkeypatch.setattr(merge_module, "FETCHED_BY_KEY_UP_TO", 3)
    con = _connection(indexed)
    _incoming(con, incoming)

    stored, params = merge_module._stored_side(con, EVENTS, "incoming", lookups)
    result = merge(con, EVENTS, "incoming", COLUMNS, "work", key_lookups_up_to=lookups)

    assert result == counts
    assert _table(con) == sorted(after)
    if not (indexed and lookups):
        assert (stored, params) == ('"events"', [])
    elif path == "nothing":
        assert (stored, params) == ('(SELECT * FROM "events" WHERE FALSE)', [])
    elif path == "by key":
        assert sorted(params) == ["e1", "e2"]
        assert stored == '(SELECT * FROM "events" WHERE "event_id" IN (?, ?))'
    else:
        assert (stored, params) == ('"events"', [])


def test_more_incoming_keys_than_the_limit_use_the_join() -> None:
    con = _connection(indexed=True)
    _incoming(con, [("n1", "C1", "page_view", AT), ("n2", "C2", "page_view", AT)])

    assert merge_module._stored_side(con, EVENTS, "incoming", 1) == ('"events"', [])
