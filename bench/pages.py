"""Benchmark (issue 10): server time of the dashboard and the segment list on the 1M-customer
data set, with cached counts. Goal: under 300 ms each.

    uv run python bench/pages.py --customers 1000000 --orders 10000000 --runs 20

Data: the same files as bench/segments.py (the demo generator, written once into
``bench/data/<customers>_<orders>/``), in a DuckDB workspace whose tables are views over them;
the ready-made library is installed and refreshed once (segment sizes and trends come from
the membership store, as in production after ``segmentum segments refresh``).

The app is ``create_app`` in-process (Starlette's TestClient, no network); a logged-in
marketer asks for each page once to fill the caches (lifecycle and RFM summaries), then
``--runs`` times; the median, p95 and the cold first request are printed. Server time is the
request's time inside the app (the ``X-Process-Time`` measured around the ASGI call).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for entry in (str(ROOT / "src"), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

PAGES = {"dashboard": "/ui/", "segment list": "/ui/segments", "segments API": "/api/segments"}
GOAL_MS = 300.0
PASSWORD = "bench password 1"


def build(customers: int, orders: int, directory: Path) -> str:
    from bench.segments import (
        DEFAULT_END,
        install_bench_library,
        open_workspace,
        prepare_data,
    )
    from segmentum.service import membership, users

    # the same seed as bench/segments.py, so both use (and keep) the same files
    data = prepare_data(customers, orders, DEFAULT_END, 42)
    ws = open_workspace(data, directory)
    try:
        install_bench_library(ws)
        started = time.perf_counter()
        membership.refresh_segments(ws, DEFAULT_END)
        print(f"library refresh: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        users.create_user(ws, "bench", PASSWORD, "marketer")
    finally:
        ws.close()
    return str(directory / "bench.duckdb")


def measure(db: str, runs: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from segmentum.api.app import create_app
    from segmentum.service.server import ServerSettings

    app = create_app(ServerSettings(db=db, worker=False))
    timings: dict[str, list[float]] = {}

    @app.middleware("http")
    async def timed(request: Any, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        timings.setdefault(request.url.path, []).append(1000 * (time.perf_counter() - started))
        return response

    results: dict[str, Any] = {}
    with TestClient(app) as client:
        answer = client.post("/api/session", json={"username": "bench", "password": PASSWORD})
        answer.raise_for_status()
        for name, path in PAGES.items():
            assert client.get(path).status_code == 200, path  # fills the caches
            cold = timings[path][-1]
            for _ in range(runs):
                assert client.get(path).status_code == 200
            warm = sorted(timings[path][-runs:])
            results[name] = {
                "path": path,
                "cold_ms": round(cold, 1),
                "median_ms": round(statistics.median(warm), 1),
                "p95_ms": round(warm[max(0, int(0.95 * len(warm)) - 1)], 1),
                "goal_ms": GOAL_MS,
                "met": statistics.median(warm) < GOAL_MS,
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        db = build(args.customers, args.orders, Path(folder))
        results = measure(db, args.runs)
    for name, row in results.items():
        print(
            f"{name:14} cold {row['cold_ms']:8.1f} ms   median {row['median_ms']:7.1f} ms   "
            f"p95 {row['p95_ms']:7.1f} ms   goal < {GOAL_MS:.0f} ms: "
            f"{'met' if row['met'] else 'NOT met'}"
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"pages_{args.customers}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
