"""The timer index's table: unkeyed on DuckDB (migration 11), keyed on PostgreSQL; an older
DuckDB store upgrades keeping its rows; every write sequence keeps one row per customer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from segmentum.engine.connection import EngineKind, connect
from segmentum.store import timers as timer_store
from segmentum.store.database import AppStore, open_store
from segmentum.store.migrations import MIGRATIONS, OnlyOn, migrate
from tests.store.timer_rows import T1, T2, T3, timer_table


def _duckdb_store(tmp_path: Path, engine_factory: Callable[..., Any]) -> AppStore:
    store = open_store(None, connect(str(tmp_path / "store.duckdb")))
    migrate(store)
    return store


def _postgres_store(tmp_path: Path, engine_factory: Callable[..., Any]) -> AppStore:
    store = open_store(None, engine_factory(EngineKind.POSTGRES))
    migrate(store)
    store.execute("DELETE FROM realtime_timers")
    return store


STORES = [
    pytest.param(_duckdb_store, id="duckdb"),
    pytest.param(_postgres_store, id="postgres", marks=pytest.mark.postgres),
]

# (timers, scope) in order; None scope = the whole index (a full refresh's rebuild)
Write = tuple[dict[str, datetime], list[str] | None]
WRITES: list[tuple[str, list[Write], dict[str, datetime]]] = [
    (
        "rebuild then scoped moves",
        [
            ({"a": T1, "b": T1, "c": T1}, None),
            ({"a": T2, "b": T1}, ["a", "b"]),
            ({"a": T3, "d": T1}, ["a", "d", "c"]),
        ],
        {"a": T3, "b": T1, "d": T1},
    ),
    (
        "the same scope written twice",
        [({"a": T1}, ["a"]), ({"a": T2}, ["a"]), ({"a": T2}, ["a"])],
        {"a": T2},
    ),
    (
        "rebuild over scoped rows",
        [({"a": T1, "b": T2}, ["a", "b"]), ({"b": T3, "c": T1}, None), ({"c": T1}, None)],
        {"c": T1},
    ),
    (
        "a scope of 2,005 customers after a rebuild",
        [
            ({f"c{n:05d}": T1 for n in range(2_005)}, None),
            (
                {f"c{n:05d}": T2 for n in range(0, 2_005, 2)},
                [f"c{n:05d}" for n in range(2_005)],
            ),
        ],
        {f"c{n:05d}": T2 for n in range(0, 2_005, 2)},
    ),
]


@pytest.mark.parametrize("make_store", STORES)
@pytest.mark.parametrize(("writes", "expected"), [pytest.param(w, e, id=n) for n, w, e in WRITES])
def test_every_write_sequence_keeps_one_timer_per_customer(
    make_store: Callable[..., AppStore],
    tmp_path: Path,
    engine_factory: Callable[..., Any],
    writes: list[Write],
    expected: dict[str, datetime],
) -> None:
    store = make_store(tmp_path, engine_factory)
    for timers, scope in writes:
        timer_store.replace_timers(store, timer_table(timers), scope)

    rows = store.query("SELECT customer_id, next_flip_at FROM realtime_timers")
    assert len(rows) == len(expected)
    assert {row["customer_id"]: row["next_flip_at"] for row in rows} == expected


def test_the_duckdb_timer_table_has_no_key_and_no_index(tmp_path: Path) -> None:
    store = _duckdb_store(tmp_path, connect)

    indexes = store.query(
        "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'realtime_timers'"
    )
    constraints = store.query(
        "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'realtime_timers' "
        "ORDER BY constraint_type"
    )
    assert indexes == []
    assert [row["constraint_type"] for row in constraints] == ["NOT NULL", "NOT NULL"]


def test_an_older_duckdb_store_upgrades_keeping_its_timers(tmp_path: Path) -> None:
    store = open_store(None, connect(str(tmp_path / "old.duckdb")))
    store.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
        "description TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    for number, description, statements in MIGRATIONS[:10]:
        for statement in statements:
            assert not isinstance(statement, OnlyOn)
            store.execute(statement)
        store.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)",
            (number, description),
        )
    store.executemany("INSERT INTO realtime_timers VALUES (?, ?)", [("a", T1), ("b", T2)])

    assert migrate(store) == [number for number, _, _ in MIGRATIONS[10:]]

    rows = store.query("SELECT customer_id, next_flip_at FROM realtime_timers ORDER BY 1")
    assert [(row["customer_id"], row["next_flip_at"]) for row in rows] == [("a", T1), ("b", T2)]
    assert (
        store.query("SELECT index_name FROM duckdb_indexes() WHERE table_name = 'realtime_timers'")
        == []
    )
