"""Benchmark (issue 4): RFM + lifecycle for every customer, and the library refresh.

    uv run python bench/segments.py --customers 1000000 --orders 10000000 --runs 3

Data: the demo generator (``segmentum.service.demo.generate_files``, what ``segmentum demo
generate`` runs) writes ``bench/data/<customers>_<orders>/raw/<table>.parquet`` once for a
fixed ``--end``; then the files are put in catalog form once, as the importer stores them
(every catalog column of the demo workspace, naive UTC timestamps, and the derived
``local_date``/``signup_date`` computed with the importer's expression for Europe/Prague) into
``bench/data/<customers>_<orders>/<table>.parquet``. Every contender reads those files.

Contenders, each run in its own subprocess (``--contender NAME``), timed inside the process
from "files on disk" to "result in memory as Arrow" (nothing precomputed or cached; the
OS page cache is warm for all alike), peak memory = ``ru_maxrss``:

(a) rfm+lifecycle
    segmentum   DuckDB workspace whose catalog tables are VIEWs over read_parquet(...);
                ``service.metrics.customer_metrics_table`` → ``.to_pyarrow()`` (one query:
                lifecycle + RFM on one feature build; ``segmentum rfm`` runs the same
                function, ``service.metrics.rfm_table``, and keeps the scored rows)
    duckdb_sql  bench/reference_duckdb.sql
    polars      bench/reference_polars.py (one lazy query)
    pandas      bench/reference_pandas.py (context only)
(b) library refresh
    segmentum_refresh  fresh workspace (same views) + ``install_library``, then timed
                ``service.membership.refresh_segments(ws, as_of)`` (``segments refresh``)

The parent asserts that every (a) output is equal (sorted by customer_id, exact) before it
prints ratios, and that (b)'s lifecycle/RFM segment sizes match (a)'s table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
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

DATA = HERE / "data"
RESULTS = HERE / "results"
TABLES = ("products", "customers", "orders", "order_items", "returns", "events", "subscriptions")
DEFAULT_END = date(2026, 6, 30)
A_CONTENDERS = ("segmentum", "duckdb_sql", "polars", "pandas")
B_CONTENDERS = ("segmentum_refresh",)
REFERENCES = ("duckdb_sql", "polars")
COLUMNS = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_group",
    "stage",
    "days_since_last_purchase",
)
CANONICAL = pa.schema(
    [
        ("customer_id", pa.string()),
        ("recency_days", pa.int64()),
        ("frequency", pa.int64()),
        ("monetary", pa.decimal128(38, 2)),
        ("r_score", pa.int64()),
        ("f_score", pa.int64()),
        ("m_score", pa.int64()),
        ("rfm_group", pa.string()),
        ("stage", pa.string()),
        ("days_since_last_purchase", pa.int64()),
    ]
)


# -- time ---------------------------------------------------------------------------------------


def settings() -> Any:
    from segmentum.demo.shop import demo_settings

    return demo_settings()


def instants(end: date) -> tuple[datetime, datetime]:
    """(as_of aware UTC, as_of naive UTC): the end of ``end`` in the workspace timezone."""
    from segmentum.service.clock import end_of_day

    as_of = end_of_day(end, settings().timezone)
    return as_of, as_of.astimezone(UTC).replace(tzinfo=None)


# -- data ---------------------------------------------------------------------------------------


def data_dir(customers: int, orders: int) -> Path:
    return DATA / f"{customers}_{orders}"


def prepare_data(customers: int, orders: int, end: date, seed: int) -> Path:
    """Generate once (demo generator), then write the catalog form once; reuse if present."""
    import duckdb

    from segmentum.catalog.schema import build_catalog
    from segmentum.catalog.types import ValueType
    from segmentum.ingest.validate import _local_date  # the importer's expression

    out = data_dir(customers, orders)
    raw = out / "raw"
    stamp = out / "DATA.json"
    wanted = {"customers": customers, "orders": orders, "end": end.isoformat(), "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return out
    raw_stamp = raw / "GENERATED.json"
    if not (raw_stamp.exists() and json.loads(raw_stamp.read_text()) == wanted):
        if out.exists():
            shutil.rmtree(out)
        from segmentum.service.demo import generate_files, shop_config

        started = time.perf_counter()
        config = shop_config(customers=customers, orders=orders, end=end, seed=seed)
        generate_files(config, raw)
        raw_stamp.write_text(json.dumps(wanted))
        print(f"generated {raw} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    catalog = build_catalog(settings())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name in TABLES:
        table = catalog.table(name)
        present = set(pq.read_schema(raw / f"{name}.parquet").names)
        parts = []
        for column in table.columns:
            quoted = f'"{column.name}"'
            if column.derived:
                source = f'CAST("{table.time_column}" AS TIMESTAMP)'
                parts.append(f"{_local_date(source, catalog.timezone)} AS {quoted}")
            elif column.name not in present:
                raise SystemExit(f"{name}.{column.name} missing from the generated file")
            elif column.type is ValueType.TIMESTAMP:
                parts.append(f"CAST({quoted} AS TIMESTAMP) AS {quoted}")
            else:
                parts.append(quoted)
        con.execute(
            f"COPY (SELECT {', '.join(parts)} FROM read_parquet('{raw / name}.parquet')) "
            f"TO '{out / name}.parquet' (FORMAT parquet)"
        )
    con.close()
    stamp.write_text(json.dumps(wanted))
    print(f"catalog form in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return out


# -- Segmentum workspace over the Parquet files -------------------------------------------------


def open_workspace(data: Path, directory: Path) -> Any:
    """A DuckDB workspace whose catalog tables are views over the Parquet files.

    The demo settings are stored before ``Workspace.open`` (``update_settings`` would re-derive
    local dates with an UPDATE, which a view refuses); the views have exactly the catalog
    columns, so ``ensure_schema`` has nothing to add.
    """
    from segmentum.catalog.schema import build_catalog
    from segmentum.engine.connection import connect
    from segmentum.service.workspace import Workspace
    from segmentum.store.database import open_store
    from segmentum.store.migrations import migrate
    from segmentum.store.workspace_settings import save_settings

    path = directory / "bench.duckdb"
    catalog = build_catalog(settings())
    engine = connect(str(path))
    for name in TABLES:
        columns = ", ".join(f'"{c}"' for c in catalog.table(name).column_names)
        engine.raw_sql(
            f"CREATE VIEW \"{name}\" AS SELECT {columns} FROM read_parquet('{data / name}.parquet')"
        )
    store = open_store(None, engine)
    migrate(store)
    save_settings(store, settings())
    engine.close()
    ws = Workspace.open(str(path))
    assert ws.settings == settings(), "demo settings not loaded"
    kinds = dict(
        ws.engine.raw_sql("SELECT table_name, table_type FROM information_schema.tables").fetchall()
    )
    assert all(kinds.get(name) == "VIEW" for name in TABLES), kinds
    return ws


def install_bench_library(ws: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """``install_library``, less the segments this workspace cannot evaluate.

    Library segments over stored predictions (``clv_*``: they need ``segmentum clv refresh``,
    SEG114 without the ``clv_predictions`` table) are deleted again, so the refresh measures
    the issue-4 library (33 segments). Returns (installed names, skipped report rows).
    """
    from segmentum.compiler import InvalidSegmentsError, compile_segments
    from segmentum.service.clock import resolve_as_of
    from segmentum.service.library import install_library
    from segmentum.service.segments import delete_segment, stored_definitions

    report = install_library(ws)
    skipped = [r for r in report if r["status"] != "installed"]
    try:
        compile_segments(
            stored_definitions(ws),
            ws.catalog,
            ws.settings,
            ws.tables(),
            resolve_as_of(DEFAULT_END, ws.settings.timezone),
        )
    except InvalidSegmentsError as invalid:
        for name in sorted({i.segment for i in invalid.issues if i.code == "SEG114"}):
            delete_segment(ws, name)
            skipped.append({"name": name, "status": "removed", "detail": "needs predictions"})
    installed = sorted(stored_definitions(ws))
    return installed, skipped


# -- contenders (run in a child process) --------------------------------------------------------


def run_contender(
    name: str, data: Path, end: date, as_of_naive: datetime, out: Path
) -> dict[str, Any]:
    """Runs in the child. Imports only what the contender needs (they count in its RSS)."""
    extra: dict[str, Any] = {}
    scratch = Path(tempfile.mkdtemp(prefix="segbench-"))
    try:
        if name == "segmentum":
            from segmentum.service.metrics import customer_metrics_table

            ws = open_workspace(data, scratch)
            started = time.perf_counter()
            table, _ = customer_metrics_table(ws, end, None)
            result = table.to_pyarrow()
            seconds = time.perf_counter() - started
            scored = result.num_rows - result.column("r_score").null_count
            extra = {"rfm_rows": scored, "lifecycle_rows": result.num_rows}
            ws.close()
        elif name == "duckdb_sql":
            import duckdb

            sql = (HERE / "reference_duckdb.sql").read_text()
            con = duckdb.connect()
            # The Python client's first parameterised query imports its converters (~1-2 s,
            # not data work; Segmentum's imports happen before its timer too).
            con.execute("SELECT $warm", {"warm": 0}).fetchall()
            params = {
                "customers": str(data / "customers.parquet"),
                "orders": str(data / "orders.parquet"),
                "as_of": as_of_naive,
                "today": end,
            }
            started = time.perf_counter()
            result = con.execute(sql, params).to_arrow_table()
            seconds = time.perf_counter() - started
        elif name == "polars":
            from bench import reference_polars

            started = time.perf_counter()
            result = reference_polars.run(data, as_of_naive, end)
            seconds = time.perf_counter() - started
        elif name == "pandas":
            from bench import reference_pandas

            started = time.perf_counter()
            result = reference_pandas.run(data, as_of_naive, end)
            seconds = time.perf_counter() - started
        elif name == "segmentum_refresh":
            from segmentum.service.membership import refresh_segments

            ws = open_workspace(data, scratch)
            installed, skipped = install_bench_library(ws)
            started = time.perf_counter()
            changes = refresh_segments(ws, end)
            seconds = time.perf_counter() - started
            sizes = {c["segment"]: c["size"] for c in changes}
            extra = {
                "segments": len(installed),
                "skipped": skipped,
                "member_rows": sum(sizes.values()),
                "sizes": sizes,
            }
            result = pa.table({"segment": list(sizes), "size": list(sizes.values())})
            ws.close()
        else:
            raise SystemExit(f"unknown contender {name}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    native = {field.name: str(field.type) for field in result.schema}
    pq.write_table(result, out)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    hwm_mb = vm_hwm_mb()
    return {
        "contender": name,
        "seconds": seconds,
        "peak_rss_mb": rss_mb,
        "vm_hwm_mb": hwm_mb,
        "rows": result.num_rows,
        "types": native,
        **extra,
    }


def vm_hwm_mb() -> float | None:
    """The kernel's peak RSS of this process image (cross-check of ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# -- parent -------------------------------------------------------------------------------------


def spawn_contender(
    script: Path,
    name: str,
    data: Path,
    end: date,
    out: Path,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``script --contender name`` in its own process; its JSON result line."""
    # Through /bin/sh, which forks the contender: Linux carries a process's RSS high-water
    # mark across exec (and a vfork child starts from the parent's), so a contender started
    # straight from this (larger) process would report at least this process's peak.
    command = [
        "/bin/sh",
        "-c",
        '"$@"; exit $?',
        "sh",
        sys.executable,
        str(script.resolve()),
        "--contender",
        name,
        "--data",
        str(data),
        "--end",
        end.isoformat(),
        "--as-of-utc",
        instants(end)[1].isoformat(),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def spawn(name: str, args: argparse.Namespace, data: Path, out: Path) -> dict[str, Any]:
    return spawn_contender(Path(__file__), name, data, args.end, out)


def canonical(path: Path) -> pa.Table:
    table = pq.read_table(path).select(list(COLUMNS))
    return table.cast(CANONICAL).sort_by("customer_id")


def compare(outputs: dict[str, Path]) -> dict[str, Any]:
    """Exact equality of every (a) output with the DuckDB SQL reference's."""
    base_name = "duckdb_sql"
    base = canonical(outputs[base_name])
    verdict: dict[str, Any] = {"rows": base.num_rows, "equal": {}, "differences": {}}
    for name, path in outputs.items():
        if name == base_name:
            continue
        other = canonical(path)
        equal = other.equals(base)
        verdict["equal"][name] = equal
        if not equal:
            verdict["differences"][name] = differences(base, other)
    return verdict


def differences(base: pa.Table, other: pa.Table) -> dict[str, Any]:
    if base.num_rows != other.num_rows or not base.column("customer_id").equals(
        other.column("customer_id")
    ):
        return {"rows": [base.num_rows, other.num_rows], "customer_ids_differ": True}
    import pyarrow.compute as pc

    found = {}
    for column in COLUMNS[1:]:
        a, b = base.column(column), other.column(column)
        same = pc.fill_null(pc.equal(a, b), False)
        same = pc.or_(same, pc.and_(pc.is_null(a), pc.is_null(b)))
        bad = pc.invert(same)
        count = pc.sum(bad).as_py() or 0
        if count:
            rows = base.filter(bad).slice(0, 3).to_pylist()
            theirs = other.filter(bad).slice(0, 3).to_pylist()
            found[column] = {"count": count, "reference": rows, "other": theirs}
    return found


def summarise(runs: list[dict[str, Any]], best_reference: float | None) -> dict[str, Any]:
    seconds = [r["seconds"] for r in runs]
    median = statistics.median(seconds)
    return {
        "median_s": round(median, 3),
        "min_s": round(min(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
        "rows": runs[-1]["rows"],
        "ratio_to_best_reference": round(median / best_reference, 2) if best_reference else None,
    }


def print_table(title: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(
        f"{'contender':<20}{'median s':>10}{'min s':>9}{'peak RSS MB':>13}{'rows':>11}{'ratio':>8}"
    )
    for name, row in rows.items():
        ratio = (
            ""
            if row["ratio_to_best_reference"] is None
            else f"{row['ratio_to_best_reference']:.2f}"
        )
        print(
            f"{name:<20}{row['median_s']:>10.3f}{row['min_s']:>9.3f}{row['peak_rss_mb']:>13.0f}"
            f"{row['rows']:>11,}{ratio:>8}"
        )


def check_refresh_sizes(sizes: dict[str, int], table: pa.Table) -> dict[str, Any]:
    """(b)'s lifecycle_* and rfm_* segment sizes against counts of (a)'s reference table."""
    stages = dict(
        zip(
            *table.group_by("stage").aggregate([("stage", "count")]).to_pydict().values(),
            strict=True,
        )
    )
    groups = table.filter(pa.compute.is_valid(table.column("rfm_group")))
    groups = dict(
        zip(
            *groups.group_by("rfm_group").aggregate([("rfm_group", "count")]).to_pydict().values(),
            strict=True,
        )
    )
    from segmentum.compiler.rfm import PRESETS

    expected = {
        f"lifecycle_{stage}": stages.get(stage, 0)
        for stage in ("zero", "active", "returned", "pre_churn", "churn", "gone")
    }
    slug = {
        rule.name: "rfm_" + rule.name.lower().replace("'", "").replace(" ", "_")
        for rule in PRESETS["ranges"]
    }
    for name, segment in slug.items():
        expected[segment] = groups.get(name, 0)
    mismatched = {k: [v, sizes.get(k)] for k, v in expected.items() if sizes.get(k) != v}
    return {"checked": len(expected), "mismatched": mismatched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END)
    parser.add_argument("--only", choices=("a", "b", "ab"), default="ab")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas contender")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--as-of-utc", type=datetime.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=RESULTS / "segments.json")
    args = parser.parse_args()

    if args.contender:
        result = run_contender(args.contender, args.data, args.end, args.as_of_utc, args.out)
        print(json.dumps(result))
        return

    s = settings()
    lc = s.lifecycle
    # The references hard-code the default thresholds, bins and preset.
    assert (lc.active_days, lc.pre_churn_days, lc.churn_days, lc.returned_gap_days) == (
        60,
        120,
        180,
        120,
    ), lc
    assert s.rfm.bins == 5, s.rfm
    assert s.rfm.preset == "ranges", s.rfm
    assert s.rfm.groups is None, s.rfm
    data = prepare_data(args.customers, args.orders, args.end, args.seed)
    outputs_dir = Path(tempfile.mkdtemp(prefix="segbench-out-"))
    contenders: list[str] = []
    if "a" in args.only:
        contenders += [c for c in A_CONTENDERS if not (args.no_pandas and c == "pandas")]
    if "b" in args.only:
        contenders += list(B_CONTENDERS)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
    outputs = {name: outputs_dir / f"{name}.parquet" for name in contenders}
    started = time.perf_counter()
    for run in range(args.runs):
        # Interleaved, rotating order: background load on a shared machine hits all alike.
        order = contenders[run % len(contenders) :] + contenders[: run % len(contenders)]
        for name in order:
            result = spawn(name, args, data, outputs[name])
            runs[name].append(result)
            print(
                f"run {run + 1}/{args.runs} {name:<18} {result['seconds']:7.3f} s "
                f"{result['peak_rss_mb']:7.0f} MB",
                file=sys.stderr,
                flush=True,
            )
    document: dict[str, Any] = {
        "command": " ".join(["uv run python bench/segments.py", *sys.argv[1:]]),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
            "versions": versions(),
        },
        "data": {
            "dir": str(data.relative_to(ROOT)),
            "customers": args.customers,
            "orders_target": args.orders,
            "orders_rows": pq.ParquetFile(data / "orders.parquet").metadata.num_rows,
            "end": args.end.isoformat(),
            "as_of_utc": instants(args.end)[0].isoformat(),
            "seed": args.seed,
        },
        "runs": args.runs,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    a_names = [c for c in contenders if c in A_CONTENDERS]
    best = None
    if a_names:
        verdict = compare({name: outputs[name] for name in a_names})
        document["a_equality"] = verdict
        best_name = min(REFERENCES, key=lambda n: statistics.median(r["seconds"] for r in runs[n]))
        best = statistics.median(r["seconds"] for r in runs[best_name])
        rows_a = {name: summarise(runs[name], best) for name in a_names}
        for name in a_names:
            rows_a[name]["types"] = runs[name][-1]["types"]
        rows_a["segmentum"]["rfm_rows"] = runs["segmentum"][-1]["rfm_rows"]
        rows_a["segmentum"]["lifecycle_rows"] = runs["segmentum"][-1]["lifecycle_rows"]
        document["a_rfm_lifecycle"] = {"best_reference": best_name, "contenders": rows_a}
        if not all(verdict["equal"].values()):
            print(json.dumps(verdict["differences"], indent=1, default=str))
            write_json(args.json, document)
            raise SystemExit("outputs differ: no ratios printed (see above)")
        print(f"\n(a) outputs equal: {verdict['rows']:,} rows, every contender == duckdb_sql")
        print_table(f"(a) RFM + lifecycle, ratio to best reference ({best_name})", rows_a)
    if "segmentum_refresh" in contenders:
        row = summarise(runs["segmentum_refresh"], best)
        last = runs["segmentum_refresh"][-1]
        row.update(
            segments=last["segments"],
            skipped=last["skipped"],
            member_rows=last["member_rows"],
            sizes=last["sizes"],
        )
        if a_names:
            row["size_check"] = check_refresh_sizes(last["sizes"], canonical(outputs["duckdb_sql"]))
        document["b_library_refresh"] = row
        print_table(
            f"(b) library refresh, {row['segments']} segments, {row['member_rows']:,} member rows"
            + (" (ratio to best reference of (a))" if best else ""),
            {"segmentum_refresh": row},
        )
        if "size_check" in row:
            print(f"    lifecycle/RFM segment sizes vs (a): {row['size_check']}")
    write_json(args.json, document)
    shutil.rmtree(outputs_dir, ignore_errors=True)
    print(f"\nwrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in ("duckdb", "ibis-framework", "polars", "pandas", "pyarrow")}


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
