"""Batched delivery: the outbox's column-wise `send_table`, claims over gaps in the ledger,
the same outbox for any batch size, and a worker that dies holding a claim."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from segmentum.campaigns.channels.base import messages_from_table, send_many, send_table
from segmentum.campaigns.channels.outbox import OutboxChannel
from segmentum.campaigns.policy import REFUSED_SCHEMA
from segmentum.campaigns.worker import Deliverer
from segmentum.service import campaigns as service
from segmentum.service.consent import delivery_refusals
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    load_subscriptions,
    outbox_settings,
    sms_campaign,
    tag_segments,
)

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _batch() -> pa.Table:
    return pa.table(
        {
            "idempotency_key": ["k1", "k2"],
            "channel": ["sms", "sms"],
            "to": ["+420601000001", "+420601000002"],
            "body": ['Ahoj 👋 "Jano"\nřádek\\', ""],
            "subject": pa.array([None, "Předmět"], pa.string()),
            "html": pa.array([None, "<p>x</p>"], pa.string()),
            "campaign_id": ["spring", "spring"],
            "segment": ["vip", "None"],
            "sender_id": pa.array([None, "SHOP"], pa.string()),
        }
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_outbox_send_table_writes_what_send_many_writes(tmp_path: Path) -> None:
    table_channel = OutboxChannel({"path": str(tmp_path / "table.jsonl")})
    answers = send_table(table_channel, _batch())
    table_channel.close()
    message_channel = OutboxChannel({"path": str(tmp_path / "messages.jsonl")})
    results = send_many(message_channel, messages_from_table(_batch()))
    message_channel.close()

    assert answers.to_pylist() == [
        {"status": "sent", "provider_message_id": "k1", "error": None},
        {"status": "sent", "provider_message_id": "k2", "error": None},
    ]
    assert [(r.status, r.provider_message_id) for r in results] == [("sent", "k1"), ("sent", "k2")]
    written = _lines(tmp_path / "table.jsonl")
    assert written == _lines(tmp_path / "messages.jsonl")
    assert written == [
        {
            "idempotency_key": "k1",
            "channel": "sms",
            "to": "+420601000001",
            "subject": None,
            "body": 'Ahoj 👋 "Jano"\nřádek\\',
            "html": None,
            "headers": {},
            "metadata": {"campaign_id": "spring", "segment": "vip"},  # null sender_id: no key
        },
        {
            "idempotency_key": "k2",
            "channel": "sms",
            "to": "+420601000002",
            "subject": "Předmět",
            "body": "",
            "html": "<p>x</p>",
            "headers": {},
            "metadata": {"campaign_id": "spring", "segment": "None", "sender_id": "SHOP"},
        },
    ]
    assert "👋" in (tmp_path / "table.jsonl").read_text(encoding="utf-8")  # UTF-8, not escaped


def test_outbox_send_table_reports_a_write_error_for_every_row(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the outbox wants a directory")
    channel = OutboxChannel({"path": str(tmp_path / "blocked" / "sms.jsonl")})
    answers = send_table(channel, _batch())
    channel.close()
    assert answers.column("status").to_pylist() == ["temporary_failure", "temporary_failure"]
    assert answers.column("provider_message_id").to_pylist() == [None, None]
    assert all(str(error).startswith("outbox: ") for error in answers.column("error").to_pylist())


#: 40 customers in "vip"; only these have consent, so the ledger's due rows have gaps of
#: skipped rows far wider than a claim's first window (2 x batch).
CONSENTING = (1, 2, 17, 18, 19, 38, 40)


@pytest.fixture
def sparse(workspace: Workspace, tmp_path: Path) -> Workspace:
    outbox_settings(workspace, str(tmp_path / "outbox"))
    load_customers(workspace, [customer(i, ["vip"]) for i in range(1, 41)])
    load_subscriptions(workspace, [(f"C{i:04d}", "sms", "opted_in") for i in CONSENTING])
    tag_segments(workspace, "vip", "lapsed", "complained")
    service.create_campaign(workspace, service.parse_campaign(sms_campaign()))
    service.send(workspace, "spring", now=NOW)
    return workspace


def _outbox(tmp_path: Path) -> list[tuple[str, str, str]]:
    return [
        (str(m["to"]), str(m["body"]), str(m["metadata"]["customer_id"]))
        for m in _lines(tmp_path / "outbox" / "sms.jsonl")
    ]


EXPECTED = [(f"+420777{i:06d}", f"VIP Name{i}", f"C{i:04d}") for i in CONSENTING]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 100])
def test_any_batch_size_delivers_the_same_messages_once_in_ledger_order(
    sparse: Workspace, tmp_path: Path, batch_size: int
) -> None:
    report = service.run_worker(sparse, until_idle=True, batch_size=batch_size,
                                clock=lambda: NOW, poll_seconds=0.01)  # fmt: skip
    assert report.delivered == 7
    assert _outbox(tmp_path) == EXPECTED
    ledger = sparse.store.query(
        "SELECT status, count(*) AS n, min(attempts) AS lo, max(attempts) AS hi "
        "FROM send_ledger GROUP BY status ORDER BY status"
    )
    assert ledger == [
        {"status": "sent", "n": 7, "lo": 1, "hi": 1},
        {"status": "skipped", "n": 33, "lo": 0, "hi": 0},
    ]


def test_claims_walk_the_gaps_in_rowid_order(sparse: Workspace) -> None:
    deliverer = Deliverer(store=sparse.store, channels={}, worker_id="w1", batch_size=2,
                          refusals=delivery_refusals(sparse))  # fmt: skip
    claimed = []
    for _ in range(4):
        claim = deliverer.claimer.claim(NOW, 2)
        claimed.append(claim.rows.column("customer_id").to_pylist() if claim.rows.num_rows else [])
    assert claimed == [["C0001", "C0002"], ["C0017", "C0018"], ["C0019", "C0038"], ["C0040"]]
    assert sparse.store.scalar("SELECT count(*) FROM send_ledger WHERE status = 'sending'") == 7


def test_a_worker_dying_with_a_claim_is_resumed_without_sending_twice(
    sparse: Workspace, tmp_path: Path
) -> None:
    crashed = Deliverer(store=sparse.store, channels={}, worker_id="crashed", batch_size=3,
                        refusals=delivery_refusals(sparse))  # fmt: skip
    crashed.deliver_once()  # 3 rows claimed and answered "no channel": failed, not sent
    crashed.claimer.claim(NOW, 3)  # the next 3 claimed (committed), then the process dies
    held = sparse.store.query(
        "SELECT customer_id FROM send_ledger WHERE status = 'sending' ORDER BY rowid"
    )
    assert [row["customer_id"] for row in held] == ["C0018", "C0019", "C0038"]

    report = service.run_worker(sparse, until_idle=True, batch_size=2, worker_id="restarted",
                                clock=lambda: NOW, poll_seconds=0.01)  # fmt: skip
    assert report.delivered == 4
    assert _outbox(tmp_path) == EXPECTED[3:]
    statuses = sparse.store.query(
        "SELECT customer_id, status, attempts FROM send_ledger WHERE status <> 'skipped' "
        "ORDER BY rowid"
    )
    assert [(r["customer_id"], r["status"], r["attempts"]) for r in statuses] == [
        ("C0001", "failed", 1), ("C0002", "failed", 1), ("C0017", "failed", 1),
        ("C0018", "sent", 1), ("C0019", "sent", 1), ("C0038", "sent", 1), ("C0040", "sent", 1),
    ]  # fmt: skip


def recheck_nothing(claimed: pa.Table) -> pa.Table:
    return REFUSED_SCHEMA.empty_table()  # the message table alone is under test here


def test_the_sender_id_is_the_country_s_then_the_default(tmp_path: Path) -> None:
    rows = pa.table(
        {
            "message_key": ["k1", "k2", "k3", "k4"],
            "campaign_id": ["spring"] * 4,
            "occurrence": [1] * 4,
            "customer_id": ["C1", "C2", "C3", "C4"],
            "channel": ["sms"] * 4,
            "recipient": ["+1", "+2", "+3", "+4"],
            "country": pa.array(["SK", "CZ", None, "PL"], pa.string()),
            "subject": pa.nulls(4, pa.string()),
            "body": ["a", "b", "c", None],
            "html": pa.nulls(4, pa.string()),
            "attempts": [0] * 4,
            "segment": ["vip"] * 4,
            "variant": ["a"] * 4,
        }
    )
    senders = {"": "SHOP", "SK": "SHOP-SK", "PL": None}  # PL listed without a sender id
    deliverer = Deliverer(store=None, channels={}, worker_id="w", sender_ids=senders,  # type: ignore[arg-type]
                          refusals=recheck_nothing)  # fmt: skip
    batch = deliverer._message_table(rows)
    assert batch.column("sender_id").to_pylist() == ["SHOP-SK", "SHOP", "SHOP", None]
    assert batch.column("body").to_pylist() == ["a", "b", "c", ""]
    assert batch.column("occurrence").to_pylist() == ["1"] * 4
