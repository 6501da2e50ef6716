"""apply_changes (a micro-batch's diff) writes exactly the entries and exits of the scope's
customers for the batch's segments, and nothing else.

Table-driven: each case is the stored members before, the batch (scope with effective
instants, segment versions, evaluated members) and the exact changes returned, members and log
rows afterwards. Run on the DuckDB file store (by one pass over ``segment_members`` and by
bound-id lookups) and, when a server is available, on a PostgreSQL app store: the DuckDB path
diffs Arrow views in one statement, PostgreSQL temporary tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from segmentum.membership.incremental import Change, apply_changes, scope_table
from segmentum.service.workspace import Workspace
from segmentum.store.database import AppStore
from tests.store.app_stores import duckdb_store, postgres_store, rows

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)

Member = tuple[str, str, int, int]  # segment, customer_id, version, day entered
LogRow = tuple[str, int, str, str, int]  # segment, version, customer_id, change, day


def day(n: int) -> datetime:
    return datetime(2026, 5, n, 9, 0)


@dataclass(frozen=True)
class Case:
    name: str
    stored: list[Member]
    scope: dict[str, int]  # customer -> day effective
    versions: dict[str, int]
    evaluated: list[tuple[str, str]]
    changes: list[tuple[str, str, str, int]]  # segment, customer, change, day
    members: list[Member]
    log: list[LogRow]


STORED = [("new", "a", 1, 1), ("vip", "a", 1, 1), ("vip", "b", 1, 1), ("vip", "z", 1, 1)]

CASES = [
    Case(
        "enter_stay_exit",
        stored=STORED,
        scope={"a": 5, "b": 6, "c": 7},
        versions={"vip": 2},
        evaluated=[("vip", "a"), ("vip", "c")],
        # new/a: not a batch segment; vip/z: not in the scope; vip/a stays
        changes=[("vip", "b", "exited", 6), ("vip", "c", "entered", 7)],
        members=[("new", "a", 1, 1), ("vip", "a", 1, 1), ("vip", "c", 2, 7), ("vip", "z", 1, 1)],
        log=[("vip", 2, "b", "exited", 6), ("vip", 2, "c", "entered", 7)],
    ),
    Case(
        "an_evaluated_pair_twice_enters_once",
        stored=[],
        scope={"c": 3},
        versions={"vip": 1, "new": 4},
        evaluated=[("vip", "c"), ("vip", "c"), ("new", "c")],
        changes=[("new", "c", "entered", 3), ("vip", "c", "entered", 3)],
        members=[("new", "c", 4, 3), ("vip", "c", 1, 3)],
        log=[("new", 4, "c", "entered", 3), ("vip", 1, "c", "entered", 3)],
    ),
    Case(
        "no_members_left",
        stored=STORED,
        scope={"a": 8, "b": 9},
        versions={"vip": 1, "new": 1},
        evaluated=[],
        changes=[("new", "a", "exited", 8), ("vip", "a", "exited", 8), ("vip", "b", "exited", 9)],
        members=[("vip", "z", 1, 1)],
        log=[
            ("new", 1, "a", "exited", 8),
            ("vip", 1, "a", "exited", 8),
            ("vip", 1, "b", "exited", 9),
        ],
    ),
    Case(
        "nothing_changes",
        stored=STORED,
        scope={"a": 2},
        versions={"vip": 1, "new": 1},
        evaluated=[("vip", "a"), ("new", "a")],
        changes=[],
        members=[("new", "a", 1, 1), ("vip", "a", 1, 1), ("vip", "b", 1, 1), ("vip", "z", 1, 1)],
        log=[],
    ),
]


STORES = [  # the store, and up to how many customers their rows are looked up by id
    pytest.param(duckdb_store, 0, id="duckdb-pass"),
    pytest.param(duckdb_store, 100, id="duckdb-lookups"),
    pytest.param(postgres_store, 0, id="postgres", marks=pytest.mark.postgres),
]


@pytest.mark.parametrize(("make_store", "lookups"), STORES)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_apply_changes_writes_exactly(
    case: Case,
    make_store: Callable[[Workspace, Callable[..., Any]], AppStore],
    lookups: int,
    workspace: Workspace,
    engine_factory: Callable[..., Any],
) -> None:
    store = make_store(workspace, engine_factory)
    for segment, customer, version, entered in case.stored:
        store.execute(
            "INSERT INTO segment_members (segment, customer_id, version, entered_at) "
            "VALUES (?, ?, ?, ?)",
            (segment, customer, version, day(entered)),
        )
    evaluated = pa.table(
        {
            "segment": pa.array([s for s, _ in case.evaluated], pa.string()),
            "customer_id": pa.array([c for _, c in case.evaluated], pa.string()),
        }
    )
    scope = scope_table({cid: day(n) for cid, n in case.scope.items()})

    changes = apply_changes(store, evaluated, scope, case.versions, NOW, lookups)

    assert changes == [Change(s, c, kind, day(n)) for s, c, kind, n in case.changes]
    members = rows(
        store,
        "SELECT segment, customer_id, version, entered_at FROM segment_members "
        "ORDER BY segment, customer_id",
    )
    assert members == [(s, c, v, day(n)) for s, c, v, n in case.members]
    log = rows(
        store,
        "SELECT segment, version, customer_id, change, effective_at, recorded_at "
        "FROM membership_log ORDER BY segment, customer_id, effective_at",
    )
    assert log == [(s, v, c, kind, day(n), NOW.replace(tzinfo=None))
                   for s, v, c, kind, n in case.log]  # fmt: skip
