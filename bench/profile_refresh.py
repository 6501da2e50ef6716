"""Where the library refresh spends its time (diagnosis for bench/segments.py, part b).

    uv run python bench/profile_refresh.py --customers 1000000 --orders 10000000 [--per-segment]

Same workspace as the benchmark (views over the catalog-form Parquet files). Times, in one
process: (1) the one-pass engine evaluation of all segments into the staging table
(``stage_in_engine``, what ``refresh`` does first), (2) ``apply_refresh`` (diff into
segment_members/membership_log),
(3) ``service.realtime.after_full_refresh`` (stored ranking boundaries and the timer index,
which ``service.membership.refresh_segments`` runs after (1)+(2), inside the benchmark's
timer), and optionally (4) each segment evaluated alone (``count`` of members), to find the
costly features, and (5) with ``--floor``, what no refresh of this library can go below on
this machine: reading every column the definitions read once (``max`` of each column, the
cheapest aggregate that decodes it, one query per table) and writing the staged member rows
twice (the current members and the log), uncompressed and with DuckDB's default compression.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.segments import DEFAULT_END, data_dir, install_bench_library, open_workspace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--per-segment", action="store_true")
    parser.add_argument("--floor", action="store_true", help="measure the read/write floor")
    args = parser.parse_args()

    from segmentum.compiler import compile_segments
    from segmentum.membership.refresh import MEMBER_SCHEMA, stage_in_engine
    from segmentum.service import realtime
    from segmentum.service.clock import now_utc, resolve_as_of
    from segmentum.service.segments import stored_definitions
    from segmentum.store import segments as segment_store
    from segmentum.store.membership import STAGING, apply_refresh

    ws = open_workspace(data_dir(args.customers, args.orders), Path(tempfile.mkdtemp()))
    install_bench_library(ws)
    definitions = stored_definitions(ws)
    versions = {s.name: s.version for s in segment_store.list_segments(ws.store)}
    as_of = resolve_as_of(DEFAULT_END, ws.settings.timezone)
    tables = ws.tables()

    started = time.perf_counter()
    wide = compile_segments(definitions, ws.catalog, ws.settings, tables, as_of)
    stage_in_engine(wide, ws.engine)
    engine_s = time.perf_counter() - started
    staged = ws.engine.raw_sql(f"SELECT count(*) FROM {STAGING}").fetchone()[0]
    started = time.perf_counter()
    apply_refresh(ws.store, None, MEMBER_SCHEMA, dict(versions), as_of, now_utc())
    store_s = time.perf_counter() - started
    started = time.perf_counter()
    realtime.after_full_refresh(ws, as_of)
    realtime_s = time.perf_counter() - started
    print(f"engine: all {len(definitions)} segments -> {staged:,} staged rows: {engine_s:.2f} s")
    print(f"store:  apply_refresh (diff, members, log): {store_s:.2f} s")
    print(f"realtime.after_full_refresh (boundaries, timers): {realtime_s:.2f} s")

    if args.floor:
        floor(ws, definitions, wide)

    if args.per_segment:
        timings = []
        for name, node in definitions.items():
            wide = compile_segments({name: node}, ws.catalog, ws.settings, tables, as_of)
            started = time.perf_counter()
            count = wide.filter(wide[name]).count().to_pyarrow().as_py()
            timings.append((time.perf_counter() - started, name, count))
        for seconds, name, count in sorted(timings, reverse=True):
            print(f"  {seconds:6.2f} s  {name:<28} {count:>9,}")


def floor(ws: Any, definitions: dict[str, Any], wide: Any) -> None:
    """Reading the columns the library reads, and writing its member rows twice; seconds of
    wall time and of CPU (both threads), the least of three runs each."""
    from segmentum.compiler.dependencies import columns_read
    from segmentum.store.membership import STAGING

    con = ws.engine.backend.con
    read = columns_read(definitions, ws.catalog)
    # profile and product columns: those the compiled query names
    sql = str(ws.engine.backend.compile(wide))
    for table in ("customers", "products"):
        named = {c for c in ws.catalog.table(table).column_names if f'"{c}"' in sql}
        read.setdefault(table, set()).update(named)

    def best_of_three(sql: str) -> tuple[float, float]:
        runs = []
        for _ in range(3):
            cpu = _cpu()
            started = time.perf_counter()
            con.execute(sql).fetchall()
            runs.append((time.perf_counter() - started, _cpu() - cpu))
        return min(runs)

    total_wall = total_cpu = 0.0
    for table in sorted(read):
        columns = sorted(c for c in read[table] if c in ws.catalog.table(table).column_names)
        aggregates = ", ".join(f'max("{c}")' for c in columns)
        wall, cpu = best_of_three(f'SELECT {aggregates} FROM "{table}"')
        total_wall += wall
        total_cpu += cpu
        label = f"{table} ({len(columns)} columns)"
        print(f"floor read  {label:<28} {wall:.3f} s wall, {cpu:.3f} s CPU")
    print(f"floor read  all tables: {total_wall:.3f} s wall, {total_cpu:.3f} s CPU")
    at = "now()::TIMESTAMP"
    shapes = {  # the columns of segment_members and membership_log
        "floor_members": f"segment, customer_id, 1 AS version, {at} AS entered_at",
        "floor_log": f"segment, 1 AS version, customer_id, 'entered' AS change, "
        f"{at} AS effective_at, {at} AS recorded_at",
    }
    for compression in ("uncompressed", "auto"):
        con.execute(f"SET force_compression = '{compression}'")
        runs = []
        for attempt in range(3):
            cpu = _cpu()
            started = time.perf_counter()
            con.execute("BEGIN")
            for name, rows in shapes.items():
                con.execute(f"CREATE TABLE {name}_{attempt} AS SELECT {rows} FROM {STAGING}")
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
            runs.append((time.perf_counter() - started, _cpu() - cpu))
            for name in shapes:
                con.execute(f"DROP TABLE {name}_{attempt}")
        wall, cpu = min(runs)
        print(
            f"floor write 2 x {staged_rows(con):,} rows, {compression}: {wall:.3f} s wall, "
            f"{cpu:.3f} s CPU"
        )
    con.execute("SET force_compression = 'auto'")


def staged_rows(con: Any) -> int:
    from segmentum.store.membership import STAGING

    return int(con.execute(f"SELECT count(*) FROM {STAGING}").fetchone()[0])


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
