"""Benchmark (issue 9): warehouse mode, Segmentum over mapped Parquet on Spark local and DuckDB.

    uv run python bench/warehouse.py --customers 1000000 --orders 10000000
    uv run python bench/warehouse.py --sizes 200000:2000000,1000000:10000000 --json out.json

Data: the demo generator, via ``bench/segments.py``'s ``prepare_data`` (generated once, then
the catalog form with local dates, ``bench/data/<customers>_<orders>/<table>.parquet``). The
big table is then laid out as a business's lake keeps it: ``warehouse/orders/`` is
Hive-partitioned Parquet (``order_year=2024/...``) with the business's column names and types
(``txn_id``, ``cust_no``, ``txn_ts`` TIMESTAMP WITH TIME ZONE, ``total`` DECIMAL(12,3)) and no
local date; the other six tables are mapped to the catalog-form files as they are (their
``local_date``/``signup_date`` columns are ignored: the engine derives them from the UTC
instant in the workspace timezone, as for any mapped table). The same rows, so the same
answers: the hand-written references read the catalog-form files.

Contenders, each in its own subprocess, timed from "files on disk" to "result in memory", peak
memory = ``ru_maxrss`` of the Python process (for Spark also the JVM's VmHWM, a separate
process in local mode), rows = rows that came back to Python / the app store:

    duckdb_sql          bench/reference_duckdb.sql (RFM + lifecycle, hand-written)
    polars              bench/reference_polars.py (one lazy query)
    seg_rfm_duckdb      Segmentum rfm_table + lifecycle_table over the mapped files, DuckDB
    seg_rfm_spark       the same on Spark local mode
    seg_refresh_duckdb  Segmentum refresh of the ready-made library (33 segments), DuckDB
    seg_refresh_spark   the same on Spark local mode (app store: a DuckDB file; members
                        stream back as Arrow batches)

The parent checks that the Segmentum RFM + lifecycle tables equal the DuckDB reference exactly
and that both refreshes give the same segment sizes, whose lifecycle/RFM sizes match the
reference table. Spark driver memory: ``SPARK_DRIVER_MEMORY`` (default 8g), passed as
``PYSPARK_SUBMIT_ARGS=--driver-memory ...``; shuffle partitions:
``SEGMENTUM_SPARK_SHUFFLE_PARTITIONS``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bench import segments  # noqa: E402

RESULTS = HERE / "results"
REFERENCES = ("duckdb_sql", "polars")
SEGMENTUM = ("seg_rfm_duckdb", "seg_rfm_spark", "seg_refresh_duckdb", "seg_refresh_spark")
ORDER_COLUMNS = {
    "order_id": "txn_id",
    "customer_id": "cust_no",
    "ordered_at": "txn_ts",
    "amount": "total",
}


def lake(data: Path) -> Path:
    """``data/warehouse/orders/order_year=YYYY/*.parquet`` in the business's names (once)."""
    import duckdb

    target = data / "warehouse" / "orders"
    stamp = data / "warehouse" / "LAKE.json"
    if stamp.exists():
        return target.parent
    shutil.rmtree(target.parent, ignore_errors=True)
    target.parent.mkdir(parents=True)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"COPY (SELECT order_id AS txn_id, customer_id AS cust_no, "
        f"CAST(ordered_at AS TIMESTAMPTZ) AS txn_ts, CAST(amount AS DECIMAL(12,3)) AS total, "
        f"currency, status, store, year(ordered_at) AS order_year "
        f"FROM read_parquet('{data / 'orders.parquet'}')) "
        f"TO '{target}' (FORMAT parquet, PARTITION_BY (order_year))"
    )
    con.close()
    stamp.write_text(json.dumps({"seconds": round(time.perf_counter() - started, 1)}))
    print(f"lake layout in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return target.parent


def mapped_settings(data: Path) -> Any:
    from segmentum.catalog.mapping import ParquetSource, TableMapping

    mappings = {
        name: TableMapping(source=ParquetSource(parquet=str(data / f"{name}.parquet")))
        for name in segments.TABLES
        if name != "orders"
    }
    mappings["orders"] = TableMapping(
        source=ParquetSource(parquet=str(data / "warehouse" / "orders")), columns=ORDER_COLUMNS
    )
    return segments.settings().model_copy(update={"table_mappings": mappings})


def open_workspace(kind: str, data: Path, scratch: Path) -> Any:
    from segmentum.service.workspace import Workspace

    if kind == "duckdb":
        ws = Workspace.open(str(scratch / "bench.duckdb"))
    else:
        ws = Workspace.open("pyspark://local[2]", str(scratch / "app.duckdb"))
    ws.update_settings(mapped_settings(data))
    return ws


def jvm_hwm_mb() -> float | None:
    """The largest VmHWM among this process's children (the Spark JVM in local mode)."""
    best = None
    me = str(os.getpid())
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == me and "VmHWM" in fields:
            value = int(fields["VmHWM"].split()[0]) / 1024
            best = value if best is None else max(best, value)
    return best


def run_contender(name: str, data: Path, end: date, as_of_naive: datetime, out: Path) -> Any:
    extra: dict[str, Any] = {}
    scratch = Path(tempfile.mkdtemp(prefix="segwh-"))
    try:
        if name in REFERENCES:
            return segments.run_contender(name, data, end, as_of_naive, out)
        kind = name.rsplit("_", 1)[1]
        ws = open_workspace(kind, data, scratch)
        if name.startswith("seg_rfm"):
            from segmentum.service.metrics import lifecycle_table, rfm_table

            started = time.perf_counter()
            rfm, _ = rfm_table(ws, end, None)
            lifecycle, _ = lifecycle_table(ws, end)
            rfm_arrow = rfm.to_pyarrow()
            lifecycle_arrow = lifecycle.to_pyarrow()
            seconds = time.perf_counter() - started
            table = lifecycle_arrow.join(rfm_arrow, "customer_id", join_type="left outer")
            extra = {"returned_rows": rfm_arrow.num_rows + lifecycle_arrow.num_rows}
        else:
            from segmentum.service.library import install_library
            from segmentum.service.membership import refresh_segments

            install_library(ws)
            started = time.perf_counter()
            changes = refresh_segments(ws, end)
            seconds = time.perf_counter() - started
            sizes = {c["segment"]: c["size"] for c in changes}
            extra = {"returned_rows": sum(sizes.values()), "sizes": sizes}
            table = pa.table({"segment": list(sizes), "size": list(sizes.values())})
        extra["jvm_hwm_mb"] = jvm_hwm_mb() if kind == "spark" else None
        ws.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    pq.write_table(table, out)
    return {
        "contender": name,
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vm_hwm_mb": segments.vm_hwm_mb(),
        "rows": table.num_rows,
        **extra,
    }


def spawn(name: str, data: Path, end: date, out: Path) -> dict[str, Any]:
    env = dict(os.environ)
    memory = os.environ.get("SPARK_DRIVER_MEMORY", "8g")
    env.setdefault("PYSPARK_SUBMIT_ARGS", f"--driver-memory {memory} pyspark-shell")
    return segments.spawn_contender(Path(__file__), name, data, end, out, env)


def measure(customers: int, orders: int, end: date, seed: int, names: list[str]) -> dict[str, Any]:
    data = segments.prepare_data(customers, orders, end, seed)
    lake(data)
    outputs_dir = Path(tempfile.mkdtemp(prefix="segwh-out-"))
    outputs = {name: outputs_dir / f"{name}.parquet" for name in names}
    results: dict[str, Any] = {}
    for name in names:
        results[name] = spawn(name, data, end, outputs[name])
        row = results[name]
        print(
            f"{customers:>9,}/{orders:>11,} {name:<20} {row['seconds']:8.2f} s "
            f"rss {row['peak_rss_mb']:7.0f} MB rows {row['rows']:>10,}",
            file=sys.stderr,
        )
    checks: dict[str, Any] = {}
    if "duckdb_sql" in outputs:
        base = segments.canonical(outputs["duckdb_sql"])
        for name in names:
            if name.startswith("seg_rfm") or name == "polars":
                checks[f"{name}_equals_duckdb_sql"] = segments.canonical(outputs[name]).equals(base)
        reference = pq.read_table(outputs["duckdb_sql"])
        for name in names:
            if name.startswith("seg_refresh"):
                sizes = results[name]["sizes"]
                checks[f"{name}_sizes"] = segments.check_refresh_sizes(sizes, reference)
    refreshes = [results[n]["sizes"] for n in names if n.startswith("seg_refresh")]
    if len(refreshes) == 2:
        checks["refresh_sizes_equal_on_both_engines"] = refreshes[0] == refreshes[1]
    shutil.rmtree(outputs_dir, ignore_errors=True)
    orders_rows = pq.ParquetFile(data / "orders.parquet").metadata.num_rows
    for row in results.values():
        row.pop("sizes", None)
    return {
        "customers": customers,
        "orders_target": orders,
        "orders_rows": orders_rows,
        "contenders": results,
        "checks": checks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000:10000000", help="customers:orders,...")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end", type=date.fromisoformat, default=segments.DEFAULT_END)
    parser.add_argument("--only", default=",".join(REFERENCES + SEGMENTUM))
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--as-of-utc", type=datetime.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=RESULTS / "warehouse.json")
    args = parser.parse_args()
    if args.contender:
        result = run_contender(args.contender, args.data, args.end, args.as_of_utc, args.out)
        print(json.dumps(result, default=str))
        return
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    started = time.perf_counter()
    measured = []
    for size in args.sizes.split(","):
        customers, orders = (int(part) for part in size.split(":"))
        measured.append(measure(customers, orders, args.end, args.seed, names))
    report = {
        "command": "uv run python bench/warehouse.py " + " ".join(sys.argv[1:]),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
            "spark_driver_memory": os.environ.get("SPARK_DRIVER_MEMORY", "8g"),
        },
        "wall_s": round(time.perf_counter() - started, 1),
        "sizes": measured,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
