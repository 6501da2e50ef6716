"""apply_refresh writes exactly the log, members and counts of the set-based diff.

Table-driven: each case is a sequence of refreshes (staged pairs, segment versions) and the
exact changes each returns, then the whole ``membership_log``, ``segment_members`` and
``membership_refreshes`` afterwards. Run on the DuckDB file store and, when a server is
available, on a PostgreSQL app store (the two paths compute the diff differently).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from segmentum.service.workspace import Workspace
from segmentum.store.database import AppStore
from segmentum.store.membership import apply_refresh, history, members_at
from tests.store.app_stores import duckdb_store, postgres_store, rows

SCHEMA = pa.schema([("segment", pa.string()), ("customer_id", pa.string())])

Pair = tuple[str, str]
Change = tuple[str, int, int, int, int]  # segment, version, size, entered, exited
LogRow = tuple[str, int, str, str, int]  # segment, version, customer_id, change, day
Member = tuple[str, str, int, int]  # segment, customer_id, version, day entered
Refreshed = tuple[int, int, int, int]  # day, segments, entered, exited


def _day(day: int) -> datetime:
    return datetime(2024, 5, day, 21, 59, 59, tzinfo=UTC)


def _recorded(day: int) -> datetime:
    return datetime(2024, 5, day, 23, 0, 0, tzinfo=UTC)


def _batches(rows: list[Pair]) -> list[pa.RecordBatch]:
    return [
        pa.RecordBatch.from_arrays(
            [pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows])],
            schema=SCHEMA,
        )
    ]


@dataclass(frozen=True)
class Step:
    staged: list[Pair]
    versions: dict[str, int]
    changes: list[Change]


@dataclass(frozen=True)
class Case:
    name: str
    steps: list[Step]
    log: list[LogRow]
    members: list[Member]
    refreshes: list[Refreshed]


CASES = [
    Case(
        "first refresh: everyone enters",
        [
            Step(
                [("vip", "b"), ("vip", "a"), ("new", "c"), ("vip", "c")],
                {"vip": 1, "new": 1},
                [("new", 1, 1, 1, 0), ("vip", 1, 3, 3, 0)],
            )
        ],
        log=[
            ("new", 1, "c", "entered", 1),
            ("vip", 1, "a", "entered", 1),
            ("vip", 1, "b", "entered", 1),
            ("vip", 1, "c", "entered", 1),
        ],
        members=[("new", "c", 1, 1), ("vip", "a", 1, 1), ("vip", "b", 1, 1), ("vip", "c", 1, 1)],
        refreshes=[(1, 2, 4, 0)],
    ),
    Case(
        "second refresh: entries, exits and a version bump (stayers keep their entry day)",
        [
            Step(
                [("vip", "a"), ("vip", "b"), ("vip", "c"), ("new", "c")],
                {"vip": 1, "new": 1},
                [("new", 1, 1, 1, 0), ("vip", 1, 3, 3, 0)],
            ),
            Step(
                [("vip", "b"), ("vip", "d"), ("new", "c"), ("new", "e")],
                {"vip": 2, "new": 1},
                [("new", 1, 2, 1, 0), ("vip", 2, 2, 1, 2)],
            ),
        ],
        log=[
            ("new", 1, "c", "entered", 1),
            ("new", 1, "e", "entered", 2),
            ("vip", 1, "a", "entered", 1),
            ("vip", 1, "b", "entered", 1),
            ("vip", 1, "c", "entered", 1),
            ("vip", 2, "a", "exited", 2),
            ("vip", 2, "c", "exited", 2),
            ("vip", 2, "d", "entered", 2),
        ],
        members=[
            ("new", "c", 1, 1),
            ("new", "e", 1, 2),
            ("vip", "b", 2, 1),
            ("vip", "d", 2, 2),
        ],
        refreshes=[(1, 2, 4, 0), (2, 2, 2, 2)],
    ),
    Case(
        "deleted segment: its members exit with their stored version, it is not counted",
        [
            Step(
                [("vip", "a"), ("old", "a"), ("old", "b")],
                {"vip": 1, "old": 3},
                [("old", 3, 2, 2, 0), ("vip", 1, 1, 1, 0)],
            ),
            Step([("vip", "a")], {"vip": 1}, [("vip", 1, 1, 0, 0)]),
        ],
        log=[
            ("old", 3, "a", "entered", 1),
            ("old", 3, "a", "exited", 2),
            ("old", 3, "b", "entered", 1),
            ("old", 3, "b", "exited", 2),
            ("vip", 1, "a", "entered", 1),
        ],
        members=[("vip", "a", 1, 1)],
        refreshes=[(1, 2, 3, 0), (2, 1, 0, 0)],
    ),
    Case(
        "deleted segment still staged: staged members stay, staged non-members do not enter",
        [
            Step([("old", "a"), ("old", "b")], {"old": 1}, [("old", 1, 2, 2, 0)]),
            Step([("old", "a"), ("old", "z"), ("vip", "a")], {"vip": 1}, [("vip", 1, 1, 1, 0)]),
        ],
        log=[
            ("old", 1, "a", "entered", 1),
            ("old", 1, "b", "entered", 1),
            ("old", 1, "b", "exited", 2),
            ("vip", 1, "a", "entered", 2),
        ],
        members=[("old", "a", 1, 1), ("vip", "a", 1, 2)],
        refreshes=[(1, 1, 2, 0), (2, 1, 1, 0)],
    ),
    Case(
        "unchanged refresh logs nothing; an emptied segment keeps its row with size 0",
        [
            Step(
                [("vip", "a"), ("new", "b")],
                {"vip": 1, "new": 1},
                [("new", 1, 1, 1, 0), ("vip", 1, 1, 1, 0)],
            ),
            Step(
                [("vip", "a"), ("new", "b")],
                {"vip": 1, "new": 1},
                [("new", 1, 1, 0, 0), ("vip", 1, 1, 0, 0)],
            ),
            Step([("vip", "a")], {"vip": 1, "new": 1}, [("new", 1, 0, 0, 1), ("vip", 1, 1, 0, 0)]),
            Step([], {"vip": 1, "new": 1}, [("new", 1, 0, 0, 0), ("vip", 1, 0, 0, 1)]),
        ],
        log=[
            ("new", 1, "b", "entered", 1),
            ("new", 1, "b", "exited", 3),
            ("vip", 1, "a", "entered", 1),
            ("vip", 1, "a", "exited", 4),
        ],
        members=[],
        refreshes=[(1, 2, 2, 0), (2, 2, 0, 0), (3, 2, 0, 1), (4, 2, 0, 1)],
    ),
]


STORES = [
    pytest.param(duckdb_store, id="duckdb"),
    pytest.param(postgres_store, id="postgres", marks=pytest.mark.postgres),
]


@pytest.mark.parametrize("make_store", STORES)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_apply_refresh_writes_exactly(
    case: Case,
    make_store: Callable[[Workspace, Callable[..., Any]], AppStore],
    workspace: Workspace,
    engine_factory: Callable[..., Any],
) -> None:
    store = make_store(workspace, engine_factory)
    for day, step in enumerate(case.steps, start=1):
        changes = apply_refresh(
            store, _batches(step.staged), SCHEMA, step.versions, _day(day), _recorded(day)
        )
        got = [(c.segment, c.version, c.size, c.entered, c.exited) for c in changes]
        assert got == step.changes, f"refresh {day}"
    log = rows(
        store,
        "SELECT segment, version, customer_id, change, effective_at, recorded_at "
        "FROM membership_log ORDER BY segment, customer_id, effective_at",
    )
    assert [(s, v, c, ch, _days(e)) for s, v, c, ch, e, r in log] == sorted(
        case.log, key=lambda row: (row[0], row[2], row[4])
    )
    assert all(r == _recorded(_days(e)).replace(tzinfo=None) for *_, e, r in log)
    members = rows(
        store,
        "SELECT segment, customer_id, version, entered_at FROM segment_members "
        "ORDER BY segment, customer_id",
    )
    assert [(s, c, v, _days(e)) for s, c, v, e in members] == case.members
    refreshes = rows(
        store,
        "SELECT as_of, recorded_at, segments, entered, exited FROM membership_refreshes "
        "ORDER BY as_of",
    )
    assert [(_days(a), n, en, ex) for a, _, n, en, ex in refreshes] == case.refreshes


def _days(at: datetime) -> int:
    for day in range(1, 32):
        if at == _day(day).replace(tzinfo=None):
            return day
    raise AssertionError(f"not a refresh instant: {at}")


def test_log_stays_complete_after_a_large_first_refresh(workspace: Workspace) -> None:
    """More rows than a DuckDB row group (122,880) enter, none exit; the next refresh's exits
    and entries must be visible on the same connection (DuckDB 1.5 hid every later insert
    into the log when the first refresh also ran an empty insert into it)."""
    store = workspace.store
    count = 130_000
    staged = [("big", f"C{i:07d}") for i in range(count)]
    first = apply_refresh(store, _batches(staged), SCHEMA, {"big": 1}, _day(1), _recorded(1))
    assert [(c.size, c.entered, c.exited) for c in first] == [(count, count, 0)]
    second = apply_refresh(
        store, _batches([*staged[1:], ("big", "Z")]), SCHEMA, {"big": 1}, _day(2), _recorded(2)
    )
    assert [(c.size, c.entered, c.exited) for c in second] == [(count, 1, 1)]
    by_change = "SELECT change, count(*) FROM membership_log GROUP BY change ORDER BY change"
    assert rows(store, by_change) == [("entered", count + 1), ("exited", 1)]
    assert [(h["size"], h["entered"], h["exited"]) for h in history(store, "big")] == [
        (count, count, 0),
        (count, 1, 1),
    ]
    assert "C0000000" not in members_at(store, "big", _day(2))
    assert "Z" in members_at(store, "big", _day(2))
