"""The membership log: entries and exits, refusal of an earlier as-of, members at a past instant."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from segmentum.service.workspace import Workspace
from segmentum.store.database import StoreError
from segmentum.store.membership import apply_refresh, current_members, history, members_at

SCHEMA = pa.schema([("segment", pa.string()), ("customer_id", pa.string())])


def _batch(rows: list[tuple[str, str]]) -> list[pa.RecordBatch]:
    return [
        pa.RecordBatch.from_arrays(
            [
                pa.array([r[0] for r in rows], pa.string()),
                pa.array([r[1] for r in rows], pa.string()),
            ],
            schema=SCHEMA,
        )
    ]


def _at(day: int) -> datetime:
    return datetime(2024, 5, day, 21, 59, 59, tzinfo=UTC)


def test_refresh_logs_entries_and_exits(workspace: Workspace) -> None:
    store = workspace.store
    first = apply_refresh(
        store,
        _batch([("vip", "a"), ("vip", "b"), ("new", "c")]),
        SCHEMA,
        {"vip": 1, "new": 1},
        _at(1),
        _at(1),
    )
    assert [(c.segment, c.version, c.size, c.entered, c.exited) for c in first] == [
        ("new", 1, 1, 1, 0),
        ("vip", 1, 2, 2, 0),
    ]
    second = apply_refresh(
        store, _batch([("vip", "b"), ("vip", "d")]), SCHEMA, {"vip": 2, "new": 1}, _at(3), _at(3)
    )
    assert [(c.segment, c.version, c.size, c.entered, c.exited) for c in second] == [
        ("new", 1, 0, 0, 1),
        ("vip", 2, 2, 1, 1),
    ]
    assert current_members(store, "vip") == ["b", "d"]
    assert members_at(store, "vip", _at(2)) == ["a", "b"]
    assert members_at(store, "vip", _at(3)) == ["b", "d"]
    assert members_at(store, "new", datetime(2024, 4, 30, tzinfo=UTC)) == []
    assert [(h["size"], h["entered"], h["exited"]) for h in history(store, "vip")] == [
        (2, 2, 0),
        (2, 1, 1),
    ]
    log = store.query(
        "SELECT customer_id, version, change FROM membership_log WHERE segment = 'vip' "
        "ORDER BY effective_at, customer_id"
    )
    assert [(r["customer_id"], r["version"], r["change"]) for r in log] == [
        ("a", 1, "entered"),
        ("b", 1, "entered"),
        ("a", 2, "exited"),
        ("d", 2, "entered"),
    ]


def test_refresh_with_an_earlier_as_of_is_refused(workspace: Workspace) -> None:
    apply_refresh(workspace.store, _batch([("vip", "a")]), SCHEMA, {"vip": 1}, _at(5), _at(5))
    with pytest.raises(StoreError, match="refusing a refresh"):
        apply_refresh(workspace.store, _batch([]), SCHEMA, {"vip": 1}, _at(4), _at(6))
    assert current_members(workspace.store, "vip") == ["a"]


def test_unchanged_refresh_logs_nothing(workspace: Workspace) -> None:
    rows = [("vip", "a"), ("vip", "b")]
    apply_refresh(workspace.store, _batch(rows), SCHEMA, {"vip": 1}, _at(1), _at(1))
    again = apply_refresh(workspace.store, _batch(rows), SCHEMA, {"vip": 1}, _at(2), _at(2))
    assert [(c.size, c.entered, c.exited) for c in again] == [(2, 0, 0)]
    assert workspace.store.scalar("SELECT count(*) FROM membership_log") == 2
