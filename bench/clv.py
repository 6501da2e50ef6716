"""Benchmark (issue 8): BTYD summary + BG/NBD/Gamma-Gamma fit + predictions for every customer,
against lifetimes' own ``summary_data_from_transaction_data`` on the same data, same run.

    uv run python bench/clv.py --customers 1000000 --orders 10000000 --period W

Data: the files of bench/segments.py (the demo generator's shop for ``--end``, in catalog form
under ``bench/data/<customers>_<orders>/``; generated once, reused), read through a DuckDB
workspace whose catalog tables are views over the Parquet files.

Steps, timed in this process (OS page cache warm), each from the files on disk:

1. summary      ``compile_btyd_summary`` → Arrow (what ``segmentum clv summary`` runs)
2. fit          the distinct (x, t_x, T) with counts and the repeaters' (x, m) from the
                engine, then both maximum-likelihood fits (``service.clv.fit_summary``)
3. predictions  the summary again as Arrow batches → NumPy/SciPy predictions per batch
4. store        the predictions written to the engine's ``clv_predictions`` table
5. lifetimes    the same purchases (live orders up to as_of of universe customers, by local
                date, amount as float) as a pandas frame (load timed apart), then
                ``summary_data_from_transaction_data`` timed alone

Before any time is printed, the two summaries are checked equal: same customers, identical
frequency/recency/T, monetary within 1e-9 relative.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402

from bench.segments import DEFAULT_END, instants, open_workspace, prepare_data  # noqa: E402


def timed(step: str, times: dict[str, float], function: Any, *args: Any) -> Any:
    started = time.perf_counter()
    result = function(*args)
    times[step] = round(time.perf_counter() - started, 2)
    print(f"{step}: {times[step]:.2f} s", file=sys.stderr)
    return result


def live_orders(ws: Any, as_of_naive: Any) -> pd.DataFrame:
    """The purchases the summary counts, for lifetimes: one row per order."""
    sql = """
        SELECT o.customer_id AS id, CAST(o.local_date AS TIMESTAMP) AS date,
               CAST(o.amount AS DOUBLE) AS amount
        FROM orders o JOIN customers c USING (customer_id)
        WHERE (o.status IS NULL OR o.status <> 'cancelled') AND o.ordered_at <= ?
          AND (c.signup_at IS NULL OR c.signup_at <= ?)
    """
    frame: pd.DataFrame = ws.engine.raw_sql(sql, (as_of_naive, as_of_naive)).df()
    return frame


def lifetimes_summary(frame: pd.DataFrame, end: date, period: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data

        result: pd.DataFrame = summary_data_from_transaction_data(
            frame,
            "id",
            "date",
            monetary_value_col="amount",
            observation_period_end=pd.Timestamp(end),
            freq=period,
        )
    return result


def check_equal(mine: pa.Table, theirs: pd.DataFrame) -> dict[str, Any]:
    ours = mine.to_pandas().set_index("customer_id").sort_index()
    theirs = theirs.sort_index()
    assert list(ours.index) == [str(i) for i in theirs.index], "different customers"
    for column in ("frequency", "recency", "T"):
        assert np.array_equal(ours[column].to_numpy(), theirs[column].to_numpy()), column
    np.testing.assert_allclose(
        ours["monetary"].to_numpy(), theirs["monetary_value"].to_numpy(), rtol=1e-9, atol=1e-9
    )
    worst = np.max(
        np.abs(ours["monetary"].to_numpy() - theirs["monetary_value"].to_numpy())
        / np.maximum(np.abs(theirs["monetary_value"].to_numpy()), 1e-12)
    )
    return {"customers": len(ours), "equal": True, "monetary_max_rel_diff": float(worst)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--period", choices=("D", "W"), default="W")
    parser.add_argument("--horizon", type=int, default=365)
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()

    from segmentum.compiler.program import compile_btyd_summary
    from segmentum.service import clv
    from segmentum.store.models import StoredModel

    data = prepare_data(args.customers, args.orders, args.end, args.seed)
    as_of, as_of_naive = instants(args.end)
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        ws = open_workspace(data, Path(scratch))
        try:

            def summary_expr() -> Any:
                tables = ws.tables()
                expr = compile_btyd_summary(ws.catalog, ws.settings, tables, as_of, args.period)
                return expr.order_by("customer_id")

            summary = timed("summary", times, lambda: summary_expr().to_pyarrow())
            parameters, customers = timed("fit", times, clv.fit_summary, summary_expr())
            models = clv._models(parameters)

            def predict() -> pa.Table:
                batches = clv.prediction_batches(
                    summary_expr(), models, args.period, args.horizon, clv.DEFAULT_DISCOUNT_RATE
                )
                return pa.Table.from_batches(list(batches), schema=clv.PREDICTED_SCHEMA)

            predictions = timed("predictions", times, predict)
            stored = StoredModel(
                "bench", as_of, args.end, args.period, parameters, customers, as_of
            )
            timed(
                "store",
                times,
                clv.store_predictions,
                ws,
                predictions,
                stored,
                args.horizon,
                clv.DEFAULT_DISCOUNT_RATE,
            )
            check: dict[str, Any] = {"skipped": True}
            if not args.skip_lifetimes:
                frame = timed("lifetimes_load", times, live_orders, ws, as_of_naive)
                theirs = timed(
                    "lifetimes_summary", times, lifetimes_summary, frame, args.end, args.period
                )
                check = check_equal(summary, theirs)
        finally:
            ws.close()
    document = {
        "customers": args.customers,
        "orders": args.orders,
        "end": args.end.isoformat(),
        "period": args.period,
        "summary_rows": summary.num_rows,
        "prediction_rows": predictions.num_rows,
        "seconds": times,
        "segmentum_total": round(
            times["summary"] + times["fit"] + times["predictions"] + times["store"], 2
        ),
        "summary_speedup_vs_lifetimes": (
            round(times["lifetimes_summary"] / times["summary"], 1)
            if "lifetimes_summary" in times
            else None
        ),
        "equal_to_lifetimes": check,
        "parameters": parameters,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
    }
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
