"""Benchmark: an audience of N customers → planned (gate, render, SMS count, budget), ledgered
and delivered to the file outbox by the worker.

    uv run python bench/campaign_send.py [N]   # default 1,000,000

Prints messages/s for planning, for delivery and end to end, and peak memory (ru_maxrss);
also the CPU seconds of the measured part and the load average before and after it: on a
shared machine the wall clock depends on the other work, the CPU time much less.
The audience is built directly as Arrow (segment evaluation is benchmarked elsewhere).
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import campaigns as service
from segmentum.service.workspace import Workspace

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    directory = Path(tempfile.mkdtemp(prefix="segmentum-bench-"))
    ws = Workspace.open(str(directory / "bench.duckdb"))
    data = ws.settings.model_dump(mode="json")
    data["channels"] = {"sms": {"type": "outbox", "path": str(directory / "sms.jsonl")}}
    data["sms_pricing"] = {"price_per_segment": "0.05"}
    ws.update_settings(WorkspaceSettings.model_validate(data))
    ids = [f"C{i:07d}" for i in range(n)]
    zones = ["Europe/Prague", "Europe/Bratislava", "Europe/London", None]
    audience = pa.table(
        {
            "customer_id": ids,
            "segment": ["vip" if i % 3 == 0 else "lapsed" for i in range(n)],
            "phone": [f"+420{i:09d}" for i in range(n)],
            "email": pa.nulls(n, pa.string()),
            "timezone": pa.array([zones[i % 4] for i in range(n)], pa.string()),
            "country": ["CZ"] * n,
            "language": pa.array(["cs" if i % 2 else "en" for i in range(n)], pa.string()),
            "first_name": [f"Jana{i % 1000}" for i in range(n)],
        }
    )
    consent = pa.table(
        {
            "customer_id": ids,
            "channel": ["sms"] * n,
            "status": ["opted_out" if i % 20 == 0 else "opted_in" for i in range(n)],
            "changed_at": pa.array([datetime(2026, 1, 1)] * n, pa.timestamp("us")),
            "source": ["import"] * n,
        }
    )
    con = ws.engine.backend.con  # type: ignore[attr-defined]
    con.register("bench_consent", consent)
    con.execute("INSERT INTO subscriptions BY NAME SELECT * FROM bench_consent")
    con.unregister("bench_consent")
    campaign = service.parse_campaign(
        {
            "name": "bench",
            "channel": "sms",
            "segments": [
                {"segment": "vip", "holdout_pct": 5, "variants": [
                    {"name": "a", "split": 50, "template": {
                        "body": "Ahoj {{ first_name }}, VIP sleva 20 %",
                        "languages": {"cs": {"body": "Ahoj {{ first_name }}, sleva 20 %"}}}},
                    {"name": "b", "split": 50, "template": {"body": "Hi {{ first_name }}!"}}]},
                {"segment": "lapsed", "template": {"body": "We miss you, {{ first_name }}"}},
            ],
            "default_template": {"body": "Spring sale"},
            "generic_pct": 10,
        }
    )  # fmt: skip
    # the audience comes from the engine in real use; here it is given as Arrow
    service.audience_arrow = lambda ws_, campaign_, as_of: audience  # type: ignore[assignment]
    ws.store.execute(
        "INSERT INTO campaigns (campaign_id, state, definition, created_at, updated_at) "
        "VALUES ('bench', 'draft', ?, ?, ?)",
        (campaign.model_dump_json(), NOW.replace(tzinfo=None), NOW.replace(tzinfo=None)),
    )
    load_before = os.getloadavg()[0]
    cpu_started = time.process_time()
    started = time.perf_counter()
    result = service.start_occurrence(ws, "bench", NOW)
    planned = time.perf_counter()
    cpu_planned = time.process_time()
    assert result is not None
    queued = sum(int(row["queued"]) for row in result["summary"])
    report = service.run_worker(ws, until_idle=True, batch_size=20_000, clock=lambda: NOW)
    delivered = time.perf_counter()
    cpu_plan, cpu_send = cpu_planned - cpu_started, time.process_time() - cpu_planned
    load_after = os.getloadavg()[0]
    ws.close()
    lines = sum(1 for _ in (directory / "sms.jsonl").open())
    shutil.rmtree(directory)  # the database and the outbox: about 0.4 GB at 1M
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    plan_s, send_s = planned - started, delivered - planned
    print(f"audience {n:,}; queued {queued:,}; delivered {report.delivered:,}; outbox {lines:,}")
    print(f"plan (snapshot, gate, render, SMS count, budget, ledger): {plan_s:.1f} s "
          f"= {n / plan_s:,.0f} candidates/s")  # fmt: skip
    print(f"deliver (claim, outbox, record): {send_s:.1f} s = {report.delivered / send_s:,.0f}/s")
    print(f"end to end: {queued / (plan_s + send_s):,.0f} messages/s; peak RSS {peak_mb:,.0f} MB")
    print(f"CPU (all threads): plan {cpu_plan:.1f} s, deliver {cpu_send:.1f} s, "
          f"total {cpu_plan + cpu_send:.1f} s; "
          f"load average {load_before:.1f} before, {load_after:.1f} after")  # fmt: skip


if __name__ == "__main__":
    main()
