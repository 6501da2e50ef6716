"""Fault tests: workers killed with SIGKILL mid-send, and two workers on one PostgreSQL store."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import campaigns as service
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    load_subscriptions,
    sms_campaign,
    tag_segments,
)
from tests.campaigns.gateway import TestGateway

pytest_plugins = ["tests.engine_fixtures"]
RECIPIENTS = 80
KILLS = 22


@pytest.fixture
def gateway() -> Iterator[TestGateway]:
    server = TestGateway().start()
    yield server
    server.stop()


def _prepare(db: str, app_db: str | None, gateway_url: str, tmp: Path) -> list[str]:
    """A planned SMS campaign of RECIPIENTS messages; returns the ledger's keys."""
    ws = Workspace.open(db, app_db)
    try:
        if app_db is not None:
            # segment evaluation reads manual lists from the data engine (ws.tables()); with a
            # separate app store the DuckDB data file needs the (empty) table too
            ws.engine.raw_sql(
                "CREATE TABLE IF NOT EXISTS manual_list_members (list_name TEXT, customer_id TEXT)"
            )
        data = ws.settings.model_dump(mode="json")
        data["channels"] = {"sms": {"type": "http_sms", "url": gateway_url, "timeout": 5}}
        data["frequency_caps"] = []
        data["quiet_hours"] = {"start": "00:00", "end": "00:00"}
        data["delivery"] = {"max_attempts": 50, "backoff_seconds": 0, "lease_seconds": 2,
                            "batch_size": 3}  # fmt: skip
        ws.update_settings(WorkspaceSettings.model_validate(data))
        load_customers(ws, [customer(i, ["vip"]) for i in range(RECIPIENTS)])
        load_subscriptions(ws, [(f"C{i:04d}", "sms", "opted_in") for i in range(RECIPIENTS)])
        tag_segments(ws, "vip", "lapsed", "complained")
        service.create_campaign(ws, service.parse_campaign(sms_campaign()))
        service.send(ws, "spring", now=datetime.now(UTC))
        rows = ws.store.query(
            "SELECT message_key FROM send_ledger WHERE status = 'queued' ORDER BY 1"
        )
        return [row["message_key"] for row in rows]
    finally:
        ws.close()
        if app_db is not None:  # Workspace.close closes the data engine only
            ws.store.connection.close()


def _worker(db: str, app_db: str | None, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SEGMENTUM_DB": db}
    if app_db:
        env["SEGMENTUM_APP_DB"] = app_db
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.campaigns.worker_main", *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=handle,
        )  # fmt: skip


def _delivered(gateway: TestGateway) -> Counter[str]:
    return Counter(item["key"] for item in gateway.received
                   if item["status"] == 200 and not item["duplicate"])  # fmt: skip


@pytest.mark.slow
def test_sigkill_at_random_points_then_restart_delivers_everyone_once(
    tmp_path: Path, gateway: TestGateway
) -> None:
    db = str(tmp_path / "shop.duckdb")
    keys = _prepare(db, None, gateway.url, tmp_path)
    assert len(keys) == RECIPIENTS
    gateway.delay_next(100_000, 0.05)  # each request takes a while: kills land mid-send
    rng = random.Random(5)
    log = tmp_path / "workers.log"
    kills = mid_send = 0
    while kills < KILLS:
        seen = len(gateway.received)
        process = _worker(db, None, log)
        if kills % 2 == 0:
            time.sleep(rng.uniform(0.05, 1.5))  # anywhere in start-up, or soon after
        else:
            deadline = time.monotonic() + 20
            while len(gateway.received) == seen and process.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.4))  # mid-send: between claims, calls and records
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
            mid_send += len(gateway.received) > seen and len(_delivered(gateway)) < RECIPIENTS
        process.wait()
    final = _worker(db, None, log)
    final.wait(timeout=60)
    assert final.returncode == 0, log.read_text()[-3000:]
    delivered = _delivered(gateway)
    assert sorted(delivered) == keys  # everyone, by the gateway's own log
    assert set(delivered.values()) == {1}  # and nobody twice
    ws = Workspace.open(db)
    try:
        statuses = ws.store.query("SELECT status, count(*) AS n FROM send_ledger GROUP BY 1")
    finally:
        ws.close()
    assert {r["status"]: r["n"] for r in statuses} == {"sent": RECIPIENTS}
    assert kills == KILLS
    assert mid_send >= 3  # several kills hit a worker that was sending


@pytest.mark.postgres
def test_two_workers_on_postgres_never_double_send(
    tmp_path: Path, gateway: TestGateway, postgres_url: str
) -> None:
    import psycopg

    from tests.engine_fixtures import admin_connection

    database = f"app_{os.getpid()}_{int(time.time())}"
    with admin_connection(postgres_url) as con:
        con.execute(f'CREATE DATABASE "{database}"')
    app_db = postgres_url.rsplit("/", 1)[0] + f"/{database}"
    db = str(tmp_path / "shop.duckdb")
    keys = _prepare(db, app_db, gateway.url, tmp_path)
    assert len(keys) == RECIPIENTS
    # the data engine is a DuckDB file (one process); the workers only need the app store
    # and the channels, so each gets its own copy of the data file
    gateway.delay_next(100_000, 0.005)
    copies = []
    for index in range(2):
        copy = tmp_path / f"copy{index}.duckdb"
        copy.write_bytes(Path(db).read_bytes())
        copies.append(str(copy))
    log = tmp_path / "workers.log"
    workers = [_worker(copy, app_db, log, "2") for copy in copies]
    for process in workers:
        process.wait(timeout=90)
    assert [p.returncode for p in workers] == [0, 0], log.read_text()[-3000:]
    requests = Counter(item["key"] for item in gateway.received)
    assert sorted(requests) == keys
    assert set(requests.values()) == {1}  # no key even reached the provider twice
    with psycopg.connect(app_db.replace("postgres://", "postgresql://", 1)) as con:
        claimed = con.execute(
            "SELECT count(DISTINCT claimed_by) FROM send_ledger WHERE status = 'sent'"
        ).fetchone()
        sent = con.execute("SELECT count(*) FROM send_ledger WHERE status = 'sent'").fetchone()
    assert sent == (RECIPIENTS,)
    assert claimed is not None
