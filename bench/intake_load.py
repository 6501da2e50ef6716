"""Benchmark (issue 6, intake part): sustained events/s through ``POST /v1/batch`` and the
ack latency, on a workspace of the 1M-customer demo shop.

    uv run python bench/intake_load.py --customers 1000000 --orders 10000000 --seconds 60

* The workspace (``bench/data/intake_<customers>_<orders>.duckdb``) is built once from the
  catalog-form Parquet files that ``bench/segments.py`` writes (``bench/data/<c>_<o>/``):
  every catalog table loaded as the importer stores it. A fresh copy is used per run, so
  every run starts from the same state.
* The server is ``segmentum serve --no-worker`` in its own process; the load generator is
  another process (``--clients`` closed-loop threads, each posting a batch of ``--batch``
  messages and waiting for the ack before the next; ``--rate`` makes it open loop, see
  ``generate``). Messages go to existing customers
  drawn at random: 50 % page views, 20 % Product Added, 10 % Checkout Started, 10 % Order
  Completed with two products, 10 % identify.
* Reported: acknowledged events/s over the measured window (after ``--warmup`` seconds), and
  p50/p95/p99 of the time from sending a request to its ack (the ack follows the commit).
  Visibility in segment membership is measured with incremental evaluation (later).
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
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
TABLES = ("customers", "products", "orders", "order_items", "events")


def build_workspace(data: Path, db: Path) -> None:
    from segmentum.service.workspace import Workspace

    ws = Workspace.open(str(db))
    try:
        con = ws.engine.backend.con
        for table in TABLES:
            path = data / f"{table}.parquet"
            wanted = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
            given = [row[0] for row in con.execute(
                "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?))", [str(path)]
            ).fetchall()]  # fmt: skip
            names = ", ".join(f'"{c}"' for c in given if c in wanted)
            con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM read_parquet(?)",
                        [str(path)])  # fmt: skip
        con.execute("CHECKPOINT")
    finally:
        ws.close()


def ingest_key(db: Path) -> str:
    from segmentum.service import keys
    from segmentum.service.workspace import Workspace

    ws = Workspace.open(str(db))
    try:
        return keys.create_key(ws, "ingest", "bench").key
    finally:
        ws.close()


def message(rng: random.Random, customers: int, number: int, worker: str) -> dict[str, Any]:
    customer = f"C{rng.randrange(1, customers + 1):07d}"
    base = {"userId": customer, "messageId": f"{worker}-{number}"}
    product = f"P{rng.randrange(1, 200):04d}"
    roll = rng.random()
    if roll < 0.5:
        return {**base, "type": "page", "properties": {"url": f"https://shop.example/{product}",
                                                        "product_id": product}}  # fmt: skip
    if roll < 0.7:
        return {
            **base,
            "type": "track",
            "event": "Product Added",
            "properties": {"cart_id": f"K-{customer}", "product_id": product, "price": 19.9},
        }
    if roll < 0.8:
        return {
            **base,
            "type": "track",
            "event": "Checkout Started",
            "properties": {"cart_id": f"K-{customer}", "value": 39.8},
        }
    if roll < 0.9:
        return {**base, "type": "track", "event": "Order Completed", "properties": {
            "order_id": f"BO-{worker}-{number}", "total": 39.8, "currency": "EUR",
            "products": [{"product_id": product, "price": 19.9},
                         {"product_id": "P0001", "price": 19.9}]}}  # fmt: skip
    return {**base, "type": "identify", "traits": {"loyaltyTier": rng.choice(["gold", "silver"])}}


def generate(url: str, key: str, customers: int, batch: int, clients: int, seconds: float,
             warmup: float, out: Any, rate: float | None = None) -> None:  # fmt: skip
    """The load generator process; puts (sent_at, latency, n, status) per request.

    Closed loop by default: each client sends its next batch when the last one is acked.
    ``rate`` (events/s): open loop, the clients together offer ``rate`` events per second on
    a fixed schedule (client n sends at its own offset plus whole intervals), and a request's
    latency counts from its scheduled time, so a client that falls behind adds its lateness
    to the latency instead of quietly offering less load (no coordinated omission)."""
    results: list[tuple[float, float, int, int]] = []
    lock = threading.Lock()
    start = time.monotonic()
    interval = clients * batch / rate if rate else 0.0

    def client(number: int) -> None:
        rng = random.Random(number)
        sequence = 0
        due = start + interval * number / clients
        with httpx.Client(auth=(key, ""), timeout=30) as http:
            while time.monotonic() - start < warmup + seconds:
                body = {"batch": [message(rng, customers, sequence + i, f"w{number}")
                                  for i in range(batch)]}  # fmt: skip
                sequence += batch
                if rate:
                    time.sleep(max(0.0, due - time.monotonic()))
                    sent, due = due, due + interval
                else:
                    sent = time.monotonic()
                answer = http.post(url + "/v1/batch", json=body)
                took = time.monotonic() - sent
                accepted = (
                    len(answer.json().get("accepted", [])) if answer.status_code == 200 else 0
                )
                with lock:
                    results.append((sent - start, took, accepted, answer.status_code))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(results)


def start_server(db: Path, port: int, worker: bool) -> tuple[subprocess.Popen[bytes], str]:
    """`segmentum serve` on ``db`` in its own process; returns it and its base URL."""
    command = [sys.executable, "-c", "from segmentum.cli.app import main; main()",
               "--db", str(db), "serve", "--port", str(port)]  # fmt: skip
    if not worker:
        command.append("--no-worker")
    return subprocess.Popen(command, env={**os.environ}), f"http://127.0.0.1:{port}"


def wait_until_healthy(url: str, timeout: float) -> None:
    """Poll /health until the server answers, or exit with a message after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            sys.exit("the server did not start")
        time.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate", type=float, help="offer this many events/s (open loop)")
    args = parser.parse_args()
    data = DATA / f"{args.customers}_{args.orders}"
    if not (data / "customers.parquet").exists():
        sys.exit(f"{data} has no catalog files: run bench/segments.py for this size first")
    template = DATA / f"intake_{args.customers}_{args.orders}.duckdb"
    if not template.exists():
        print(f"building {template} (once)", file=sys.stderr)
        build_workspace(data, template)
    db = DATA / f"intake_run_{args.customers}.duckdb"
    shutil.copyfile(template, db)
    key = ingest_key(db)
    server, url = start_server(db, args.port, worker=False)
    try:
        wait_until_healthy(url, timeout=120)
        out: Any = multiprocessing.get_context("spawn").Queue()
        load = multiprocessing.get_context("spawn").Process(
            target=generate,
            args=(url, key, args.customers, args.batch, args.clients, args.seconds,
                  args.warmup, out, args.rate),
        )  # fmt: skip
        load.start()
        results = out.get()
        load.join()
    finally:
        server.terminate()
        server.wait(60)
    measured = [r for r in results if r[0] >= args.warmup]
    window = max(r[0] + r[1] for r in measured) - args.warmup
    latencies = [r[1] * 1000 for r in measured]
    events = sum(r[2] for r in measured)
    report = {
        "customers": args.customers,
        "orders": args.orders,
        "batch": args.batch,
        "clients": args.clients,
        "offered_events_per_second": args.rate,
        "seconds": round(window, 1),
        "requests": len(measured),
        "errors": sum(1 for r in measured if r[3] != 200),
        "events_per_second": round(events / window),
        "ack_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
            "p99": round(percentile(latencies, 99), 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(report, indent=2))
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / f"intake_load_{args.customers}.json").write_text(
        json.dumps(report, indent=2)
    )
    db.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
