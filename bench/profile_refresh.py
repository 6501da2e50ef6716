"""Where the library refresh spends its time (diagnosis for bench/segments.py, part b).

    uv run python bench/profile_refresh.py --customers 1000000 --orders 10000000 [--per-segment]

Same workspace as the benchmark (views over the catalog-form Parquet files). Times, in one
process: (1) the one-pass engine evaluation of all segments into the staging table
(``stage_in_engine``, what ``refresh`` does first), (2) ``apply_refresh`` (diff into
segment_members/membership_log),
(3) ``service.realtime.after_full_refresh`` (stored ranking boundaries and the timer index,
which ``service.membership.refresh_segments`` runs after (1)+(2), inside the benchmark's
timer), and optionally (4) each segment evaluated alone (``count`` of members), to find the
costly features.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.segments import DEFAULT_END, data_dir, install_bench_library, open_workspace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--per-segment", action="store_true")
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

    if args.per_segment:
        timings = []
        for name, node in definitions.items():
            wide = compile_segments({name: node}, ws.catalog, ws.settings, tables, as_of)
            started = time.perf_counter()
            count = wide.filter(wide[name]).count().to_pyarrow().as_py()
            timings.append((time.perf_counter() - started, name, count))
        for seconds, name, count in sorted(timings, reverse=True):
            print(f"  {seconds:6.2f} s  {name:<28} {count:>9,}")


if __name__ == "__main__":
    main()
