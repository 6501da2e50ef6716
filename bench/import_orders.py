"""Benchmark: `segmentum import orders` against DuckDB's bare read_csv of the same file.

    uv run python bench/import_orders.py --rows 10000000

Generates a clean N-row orders CSV and the customers it needs once into bench/data/, then
times (a) bare ``read_csv`` into a typed table and (b) ``service.imports.import_file`` into a
fresh workspace, each ``--repeat`` times, checks both hold the same rows (count, sum(amount),
key checksum) and prints rows/s and the ratio of the medians (ours / bare).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import duckdb

from segmentum.service.imports import ImportOptions, import_file
from segmentum.service.workspace import Workspace

DATA = Path(__file__).parent / "data"
CHECK = "SELECT count(*), sum(amount), bit_xor(hash(order_id)) FROM orders"


def generate(rows: int) -> tuple[Path, Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    orders = DATA / f"orders_{rows}.csv"
    customers = DATA / f"customers_{rows}.csv"
    n_customers = max(rows // 10, 1)
    con = duckdb.connect()
    if not customers.exists():
        con.execute(
            f"COPY (SELECT 'c' || i AS customer_id, 'c' || i || '@example.com' AS email "
            f"FROM range({n_customers}) t(i)) TO '{customers}' (HEADER)"
        )
    if not orders.exists():
        con.execute(
            f"""COPY (SELECT 'o' || i AS order_id, 'c' || (i * 7919 % {n_customers}) AS customer_id,
                strftime(TIMESTAMP '2023-01-01' + to_seconds(i * 31 % 63072000),
                         '%Y-%m-%dT%H:%M:%S') AS ordered_at,
                round((i % 100000) / 100.0, 2)::DECIMAL(18,2) AS amount,
                'EUR' AS currency, CASE WHEN i % 20 = 0 THEN 'cancelled' ELSE 'paid' END AS status
                FROM range({rows}) t(i)) TO '{orders}' (HEADER)"""
        )
    con.close()
    return orders, customers


def bare(orders: Path, workdir: Path) -> tuple[float, tuple[object, ...]]:
    path = workdir / "bare.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    start = time.perf_counter()
    con.execute(
        "CREATE TABLE orders AS SELECT * FROM read_csv(?, header=true, columns={"
        "'order_id': 'VARCHAR', 'customer_id': 'VARCHAR', 'ordered_at': 'TIMESTAMP', "
        "'amount': 'DECIMAL(18,2)', 'currency': 'VARCHAR', 'status': 'VARCHAR'})",
        [str(orders)],
    )
    elapsed = time.perf_counter() - start
    check = con.execute(CHECK).fetchone()
    con.close()
    return elapsed, tuple(check or ())


def ours(orders: Path, customers: Path, workdir: Path) -> tuple[float, tuple[object, ...]]:
    path = workdir / "ours.duckdb"
    path.unlink(missing_ok=True)
    ws = Workspace.open(str(path))
    try:
        import_file(ws, "customers", customers, ImportOptions())
        start = time.perf_counter()
        summary = import_file(ws, "orders", orders, ImportOptions())
        elapsed = time.perf_counter() - start
        assert summary.rejected == 0, summary
        check = ws.engine.raw_sql(CHECK).fetchone()
    finally:
        ws.close()
    return elapsed, tuple(check or ())


def main() -> int:
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    orders, customers = generate(args.rows)
    print(
        f"data: {orders} ({orders.stat().st_size / 1e6:.0f} MB), "
        f"ready in {time.perf_counter() - start:.1f} s"
    )
    workdir = Path(tempfile.mkdtemp(prefix="segmentum-bench-"))
    try:
        bare_times, our_times = [], []
        bare_check = our_check = None
        for attempt in range(args.repeat):
            seconds, bare_check = bare(orders, workdir)
            bare_times.append(seconds)
            seconds, our_check = ours(orders, customers, workdir)
            our_times.append(seconds)
            print(f"run {attempt + 1}: bare {bare_times[-1]:.2f} s, ours {our_times[-1]:.2f} s")
        if bare_check != our_check:
            print(f"MISMATCH: bare {bare_check} vs ours {our_check}")
            return 1
        bare_median, our_median = statistics.median(bare_times), statistics.median(our_times)
        print(
            f"same rows: count={bare_check[0]} sum(amount)={bare_check[1]} "  # type: ignore[index]
            f"checksum={bare_check[2]}"
        )  # type: ignore[index]
        print(f"bare read_csv: {args.rows / bare_median:,.0f} rows/s (median {bare_median:.2f} s)")
        print(f"segmentum import: {args.rows / our_median:,.0f} rows/s (median {our_median:.2f} s)")
        print(f"ratio ours/bare (median): {our_median / bare_median:.2f}x")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
