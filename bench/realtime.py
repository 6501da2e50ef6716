"""Benchmark (issue 6, real-time part): events/s through ``POST /v1/batch`` with incremental
membership, and the time from a commit (the ack follows it) to the membership change being
visible, on the 1M-customer demo shop with the ready-made library.

    uv run python bench/realtime.py --customers 1000000 --orders 10000000 --seconds 60
    uv run python bench/realtime.py --mode direct ...   # micro-batches in-process, no HTTP

* Workspace: a copy of ``bench/data/intake_<c>_<o>.duckdb`` (``bench/intake_load.py`` builds
  it from the catalog Parquet files), then ``segments install-library`` and one full refresh
  (which also recomputes the ranking boundaries and builds the timer index; timed), then the
  customer_id indexes the micro-batches read through (timed), then (``--lookup-layout``)
  ``segmentum workspace prepare-realtime``'s rewrite of the activity tables uncompressed
  (timed; ``service.lookup_layout``).
* ``http``: ``segmentum serve`` (worker embedded: timers and automations run) in its own
  process; the load generator of ``bench/intake_load.py`` in another (closed-loop clients,
  batches of ``--batch`` messages to random existing customers; ``--rate N``: open loop,
  N events/s offered on a fixed schedule, so that two versions compare at the same load).
  The server's real-time processor applies every commit's touched customers in
  micro-batches; ``GET /v1/realtime`` reports the commit → visible latencies (measured in
  the server: from the commit, which precedes the ack, to the end of the micro-batch that
  applied it).
* ``direct``: the incremental path alone: random touched customers (the same mix of tables)
  applied by ``service.realtime.apply_batch`` in batches of ``--direct-customers``.
* ``--reuse``: keep the prepared workspace
  (``bench/data/realtime_prepared_<c>[_lookups].duckdb``: the library installed, refreshed
  and indexed, and its keys) and start every run from a copy of
  it, instead of preparing again (minutes at 1M customers).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
if str(ROOT.parent) not in sys.path:
    sys.path.insert(0, str(ROOT.parent))

from bench.intake_load import (  # noqa: E402
    build_workspace,
    generate,
    percentile,
    start_server,
    wait_until_healthy,
)

QUANTILES = (("p50", 50), ("p95", 95), ("p99", 99))


def prepare(template: Path, db: Path, lookups: bool) -> dict[str, Any]:
    """Copy the workspace, install the library, refresh once, index (and with ``lookups``
    rewrite the tables in the lookup layout); the keys and the timings."""
    from segmentum.service import keys, realtime
    from segmentum.service.library import install_library
    from segmentum.service.membership import refresh_segments
    from segmentum.service.workspace import Workspace

    shutil.copyfile(template, db)
    ws = Workspace.open(str(db))
    try:
        installed = [r["name"] for r in install_library(ws) if r["status"] == "installed"]
        started = time.perf_counter()
        refresh_segments(ws)
        refresh = time.perf_counter() - started
        started = time.perf_counter()
        realtime.ensure_indexes(ws)
        indexes = time.perf_counter() - started
        layout = None
        if lookups:  # ``segmentum workspace prepare-realtime``
            from segmentum.service import lookup_layout

            started = time.perf_counter()
            lookup_layout.prepare(ws)
            layout = round(time.perf_counter() - started, 1)
        return {
            "segments": len(installed),
            "refresh_seconds": round(refresh, 1),
            "index_seconds": round(indexes, 1),
            "lookup_layout_seconds": layout,
            "timers": ws.store.scalar("SELECT count(*) FROM realtime_timers"),
            "boundaries": ws.store.scalar("SELECT count(*) FROM ranking_boundaries"),
            "ingest_key": keys.create_key(ws, "ingest", "bench").key,
            "read_key": keys.create_key(ws, "admin", "bench-read").key,
        }
    finally:
        ws.close()


def _rss_mb(pid: int) -> int | None:
    """A process's resident set in MB (Linux ``/proc``; None elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def run_http(args: argparse.Namespace, db: Path, prepared: dict[str, Any]) -> dict[str, Any]:
    server, url = start_server(db, args.port, worker=True)
    read = httpx.Client(base_url=url, auth=(prepared["read_key"], ""), timeout=60)
    try:
        wait_until_healthy(url, timeout=300)
        context = multiprocessing.get_context("spawn")
        out: Any = context.Queue()
        load = context.Process(
            target=generate,
            args=(url, prepared["ingest_key"], args.customers, args.batch, args.clients,
                  args.seconds, args.warmup, out, args.rate),
        )  # fmt: skip
        load.start()
        time.sleep(args.warmup)
        read.get("/v1/realtime", params={"reset": "true"})  # measure after the warm-up
        rss_after_warmup = _rss_mb(server.pid)
        results = out.get()
        load.join()
        time.sleep(args.drain)  # let the last micro-batches finish
        status = read.get("/v1/realtime").json()
        rss_at_end = _rss_mb(server.pid)
    finally:
        read.close()
        server.terminate()
        server.wait(120)
    measured = [r for r in results if r[0] >= args.warmup]
    window = max(r[0] + r[1] for r in measured) - args.warmup
    acks = [r[1] * 1000 for r in measured]
    events = sum(r[2] for r in measured)
    return {
        "seconds": round(window, 1),
        "requests": len(measured),
        "errors": sum(1 for r in measured if r[3] != 200),
        "events_per_second": round(events / window),
        "ack_ms": {q: round(percentile(acks, p), 1) for q, p in QUANTILES},
        "visible_after_commit_ms": {
            q: None
            if status.get(f"latency_{q}") is None
            else round(status[f"latency_{q}"] * 1000, 1)
            for q in ("p50", "p95", "p99")
        },
        "micro_batches": status.get("batches"),
        "micro_batch_ms": {
            q: None
            if status.get(f"batch_seconds_{q}") is None
            else round(status[f"batch_seconds_{q}"] * 1000, 1)
            for q in ("p50", "p95", "max")
        },
        "micro_batch_phase_ms": {
            phase: {
                q: None if quantiles.get(q) is None else round(quantiles[q] * 1000, 1)
                for q in ("p50", "p95")
            }
            for phase, quantiles in (status.get("batch_phase_seconds") or {}).items()
        },
        # the server process's resident memory: a leak shows as growth under steady load
        "server_rss_mb": {"after_warmup": rss_after_warmup, "at_end": rss_at_end},
        "customers_applied": status.get("customers"),
        "membership_changes": status.get("changes"),
        "realtime_error": status.get("error"),
    }


def run_direct(args: argparse.Namespace, db: Path) -> dict[str, Any]:
    from segmentum.service import realtime
    from segmentum.service.workspace import Workspace

    ws = Workspace.open(str(db))
    rng = random.Random(7)
    mixes = [({"events"}, {"page_view"}), ({"events"}, {"cart_updated"}),
             ({"events"}, {"checkout_started"}), ({"orders", "order_items"}, set()),
             ({"customers"}, set())]  # fmt: skip
    seconds: list[float] = []
    try:
        deadline = time.monotonic() + args.seconds
        customers = 0
        while time.monotonic() < deadline:
            touched = {}
            for _ in range(args.direct_customers):
                tables, types = rng.choice(mixes)
                cid = f"C{rng.randrange(1, args.customers + 1):07d}"
                touch = touched.setdefault(cid, realtime.Touch())
                touch.tables |= tables
                touch.event_types |= types
            report = realtime.apply_batch(ws, touched)
            seconds.append(report.seconds)
            customers += report.customers
    finally:
        ws.close()
    total = sum(seconds)
    return {
        "batches": len(seconds),
        "customers_per_batch": args.direct_customers,
        "customers_per_second": round(customers / total),
        "batch_ms": {
            "p50": round(percentile(seconds, 50) * 1000, 1),
            "p95": round(percentile(seconds, 95) * 1000, 1),
            "p99": round(percentile(seconds, 99) * 1000, 1),
            "mean": round(statistics.fmean(seconds) * 1000, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--mode", choices=("http", "direct"), default="http")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--drain", type=float, default=10)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--direct-customers", type=int, default=100)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--rate",
        type=float,
        help="offer this many events/s on a fixed schedule (open loop; latency counts from "
        "each request's scheduled time) instead of closed-loop clients",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="prepare once, start every run from a copy"
    )
    parser.add_argument(
        "--lookup-layout",
        action="store_true",
        help="rewrite the tables uncompressed first (`segmentum workspace prepare-realtime`)",
    )
    args = parser.parse_args()
    data = DATA / f"{args.customers}_{args.orders}"
    template = DATA / f"intake_{args.customers}_{args.orders}.duckdb"
    if not template.exists():
        if not (data / "customers.parquet").exists():
            sys.exit(f"{data} has no catalog files: run bench/segments.py for this size first")
        build_workspace(data, template)
    db = DATA / f"realtime_run_{args.customers}.duckdb"
    layout = "_lookups" if args.lookup_layout else ""
    kept = DATA / f"realtime_prepared_{args.customers}{layout}.duckdb"
    kept_keys = kept.with_suffix(".json")
    if args.reuse and kept.exists() and kept_keys.exists():
        shutil.copyfile(kept, db)
        prepared = json.loads(kept_keys.read_text())
    else:
        prepared = prepare(template, db, args.lookup_layout)
        if args.reuse:
            shutil.copyfile(db, kept)
            kept_keys.write_text(json.dumps(prepared))
    report: dict[str, Any] = {
        "customers": args.customers,
        "orders": args.orders,
        "mode": args.mode,
        "batch": args.batch,
        "clients": args.clients,
        "offered_events_per_second": args.rate,
        **{k: v for k, v in prepared.items() if not k.endswith("_key")},
    }
    try:
        report.update(run_http(args, db, prepared) if args.mode == "http" else
                      run_direct(args, db))  # fmt: skip
    finally:
        db.unlink(missing_ok=True)
        Path(str(db) + ".wal").unlink(missing_ok=True)
    # the machine is shared: the 1/5/15-minute load at the end qualifies every figure
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "load_average": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip
    print(json.dumps(report, indent=2))
    (ROOT / "results").mkdir(exist_ok=True)
    load = f"c{args.clients}" if args.mode == "http" else f"b{args.direct_customers}"
    load += f"_r{args.rate:g}" if args.rate and args.mode == "http" else ""
    load += "_lookups" if args.lookup_layout else ""
    name = f"realtime_{args.mode}_{args.customers}_{load}.json"
    (ROOT / "results" / name).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
