"""What a micro-batch reads and writes: only the scoped tables its queries read, only the
timers that changed, ids always as bound values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from segmentum.service import realtime
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.workspace import Workspace
from segmentum.store import timers as timer_store
from segmentum.store.database import placeholders
from tests.automations.shop import add_customer
from tests.store.timer_rows import T1, T2, T3, timer_table


def _stored(ws: Workspace) -> dict[str, tuple[datetime, int]]:
    rows = ws.store.query("SELECT customer_id, next_flip_at, rowid AS r FROM realtime_timers")
    return {row["customer_id"]: (row["next_flip_at"], row["r"]) for row in rows}


def test_a_scoped_timer_write_rewrites_only_what_changed(workspace: Workspace) -> None:
    timer_store.replace_timers(workspace.store, timer_table({"a": T1, "b": T1, "c": T1}), None)
    before = _stored(workspace)

    # a keeps its timer, b's moves, c is not in the scope, d is new, e had none and has none
    timer_store.replace_timers(
        workspace.store, timer_table({"a": T1, "b": T2, "d": T3}), ["a", "b", "d", "e"]
    )

    after = _stored(workspace)
    assert {cid: at for cid, (at, _) in after.items()} == {"a": T1, "b": T2, "c": T1, "d": T3}
    assert after["a"][1] == before["a"][1]  # the same row: not deleted and inserted again
    assert after["c"][1] == before["c"][1]
    assert after["b"][1] != before["b"][1]


def test_a_scoped_timer_write_removes_timers_that_are_gone(workspace: Workspace) -> None:
    timer_store.replace_timers(workspace.store, timer_table({"a": T1, "b": T2}), None)

    timer_store.replace_timers(workspace.store, timer_table({}), ["a"])

    assert {cid: at for cid, (at, _) in _stored(workspace).items()} == {"b": T2}


def test_a_full_rebuild_rewrites_only_what_changed(workspace: Workspace) -> None:
    timer_store.replace_timers(workspace.store, timer_table({"a": T1, "b": T1, "c": T1}), None)
    before = _stored(workspace)

    # a keeps its timer, b's moves, c has none any more, d is new
    timer_store.replace_timers(workspace.store, timer_table({"a": T1, "b": T2, "d": T3}), None)

    after = _stored(workspace)
    assert {cid: at for cid, (at, _) in after.items()} == {"a": T1, "b": T2, "d": T3}
    assert after["a"][1] == before["a"][1]  # the same row: not deleted and inserted again
    assert after["b"][1] != before["b"][1]

    timer_store.replace_timers(workspace.store, timer_table({}), None)
    assert _stored(workspace) == {}


def test_a_large_scope_replaces_its_timers_in_one_pass(workspace: Workspace) -> None:
    scope = [f"c{n:05d}" for n in range(2_000 + 1)]
    timer_store.replace_timers(workspace.store, timer_table(dict.fromkeys(scope, T1)), None)

    timer_store.replace_timers(workspace.store, timer_table({scope[0]: T2}), scope)

    assert {cid: at for cid, (at, _) in _stored(workspace).items()} == {scope[0]: T2}


def test_only_the_scoped_tables_the_queries_read_are_staged() -> None:
    members = 'SELECT * FROM "rt_scope_customers" JOIN "rt_scope_events" USING (customer_id)'
    timers = 'SELECT * FROM "rt_scope_order_items"'

    assert realtime.scoped_tables_read(members, None) == ("customers", "events")
    # order items are staged through the batch's orders
    assert realtime.scoped_tables_read(None, timers) == ("orders", "order_items")
    assert realtime.scoped_tables_read(members, timers) == (
        "customers",
        "orders",
        "order_items",
        "events",
    )


def test_ids_reach_sql_as_bound_values_only() -> None:
    assert placeholders(len(["C1", "x'); DROP TABLE customers; --"])) == "?, ?"
    assert placeholders(len([])) == "NULL"


def test_effective_times_are_the_batch_customers_latest_event_since(
    workspace: Workspace,
) -> None:
    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 5, 1, hour, minute)

    rows = [  # message, customer, received, occurred
        ("m1", "a", at(10), at(9)),
        ("m2", "a", at(11), at(10, 30)),
        ("m3", "b", at(11), at(8)),
        ("m4", "c", at(11), at(11)),  # not in the batch
        ("m5", "d", at(9), at(9)),  # received before ``since``
        ("m6", "b", at(11), None),  # no event time (e.g. an identify without timestamp)
    ]
    for message, customer, received, occurred in rows:
        workspace.store.execute(
            "INSERT INTO intake_messages (message_id, kind, customer_id, record_table, "
            "received_at, occurred_at, batch_id) VALUES (?, 'track', ?, 'events', ?, ?, 'b1')",
            (message, customer, received, occurred),
        )
    since = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    found = realtime._effective_times(workspace, ["a", "b", "d", "e"], since)
    assert found == {"a": at(10, 30), "b": at(8)}
    assert realtime._effective_times(workspace, [], since) == {}
    later = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert realtime._effective_times(workspace, ["a"], later) == {}


def test_a_batch_writes_its_members_and_timers_in_one_transaction(workspace: Workspace) -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    add_customer(workspace, "C1", now - timedelta(days=3))
    create_segment(workspace, "vip", DefinitionSource(data={"where": {"has_tag": "vip"}}))
    ctx = realtime.context(workspace)
    touched = {"C1": realtime.Touch({"customers"})}
    members = pa.table({"segment": ["vip"], "customer_id": ["C1"]})
    unreadable = pa.table({"customer_id": ["C1"], "next_flip_at": ["not an instant"]})

    with pytest.raises(pa.ArrowInvalid):
        realtime.commit_batch(workspace, ctx, touched, ["vip"], members, unreadable, now)
    # the timers failed after the diff had run: the diff's writes are undone with them
    assert workspace.store.query("SELECT count(*) AS n FROM membership_log") == [{"n": 0}]
    assert workspace.store.query("SELECT count(*) AS n FROM segment_members") == [{"n": 0}]

    flip = datetime(2026, 5, 2, 0, 0)
    timers = pa.table({"customer_id": ["C1"], "next_flip_at": pa.array([flip], pa.timestamp("us"))})
    changes = realtime.commit_batch(workspace, ctx, touched, ["vip"], members, timers, now)

    assert [(c.segment, c.customer_id, c.change) for c in changes] == [("vip", "C1", "entered")]
    assert workspace.store.query("SELECT segment, customer_id FROM segment_members") == [
        {"segment": "vip", "customer_id": "C1"}
    ]
    assert {cid: at for cid, (at, _) in _stored(workspace).items()} == {"C1": flip}
