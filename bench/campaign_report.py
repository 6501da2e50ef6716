"""Benchmark (issue 7): the report of a 1M-recipient campaign over 10M orders.

    uv run python bench/campaign_report.py --recipients 1000000 --orders 10000000 --runs 3

Data (built once per size in ``bench/data/report_<recipients>_<orders>/shop.duckdb``, by SQL
in DuckDB, seeded): a workspace file with ``recipients`` customers, a stored SMS campaign with
four segments (holdout 10/20/30/40 %, A/B variants in the first, a 20 % generic share), its
audience snapshot and ledger (a few % skipped by reason, 5 % of sent failed, the rest
delivered), 5 % click events and ``orders`` orders spread over 60 days around the send.

Contenders, each in its own subprocess on the same file (``--contender NAME``), timed inside
the process from an open connection to the figures in memory; peak memory = ``ru_maxrss``:

    segmentum   ``service.reports.report_campaign`` (what ``segmentum campaigns report`` runs)
    duckdb_sql  a hand-written DuckDB query for the same figures (below), the same statistics
                from its aggregates

The parent asserts that both outputs are equal (every count and sum exactly; the statistics
to 1e-9 relative) before it prints the timings.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

T0 = "2026-03-02 10:00:00"
COUNTS = ("audience", "eligible", "held_out", "treated", "sent", "delivered", "failed",
          "skipped", "clicked", "converted", "attributed_orders", "sms_segments")  # fmt: skip
SUMS = ("revenue", "attributed_revenue", "cost")
STATS = ("uplift_pp", "uplift_pp_low", "uplift_pp_high", "z", "p_value", "rpr_difference",
         "rpr_difference_low", "rpr_difference_high", "welch_t", "welch_df",
         "welch_p_value")  # fmt: skip

CAMPAIGN = {
    "name": "bench",
    "channel": "sms",
    "segments": [
        {"segment": "s1", "holdout_pct": 10, "variants": [
            {"name": "a", "split": 50, "template": {"body": "A"}},
            {"name": "b", "split": 50, "template": {"body": "B"}}]},
        {"segment": "s2", "holdout_pct": 20},
        {"segment": "s3", "holdout_pct": 30},
        {"segment": "s4", "holdout_pct": 40},
    ],
    "default_template": {"body": "Sale"},
    "generic_pct": 20,
    "goal": {"type": "purchase", "within_days": 7},
}  # fmt: skip


def prepare(path: Path, recipients: int, orders: int) -> None:
    from segmentum.service.workspace import Workspace
    from segmentum.store import campaigns as campaign_store

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    ws = Workspace.open(str(path))
    try:
        from datetime import datetime

        from segmentum.campaigns.model import Campaign

        campaign = Campaign.model_validate(CAMPAIGN)
        campaign_store.insert_campaign(ws.store, "bench", campaign.model_dump_json(),
                                       datetime(2026, 3, 1))  # fmt: skip
        con = ws.store.connection
        con.execute("SELECT setseed(0.42)")
        con.execute(
            f"""CREATE TEMP TABLE base AS SELECT 'C' || lpad(CAST(i AS VARCHAR), 8, '0') AS cid,
                i, hash(i) % 1000 AS h1, hash(i * 7 + 1) % 1000 AS h2,
                hash(i * 13 + 5) % 1000 AS h3
            FROM range({recipients}) t(i)"""
        )
        con.execute("INSERT INTO customers (customer_id) SELECT cid FROM base")
        con.execute(
            """CREATE TEMP TABLE snap AS SELECT cid, i,
                CASE WHEN h1 < 250 THEN 's1' WHEN h1 < 500 THEN 's2' WHEN h1 < 750 THEN 's3'
                     ELSE 's4' END AS segment,
                h2, h3, h2 >= 30 AS eligible,
                h2 >= 30 AND h3 % 100 < CASE WHEN h1 < 250 THEN 10 WHEN h1 < 500 THEN 20
                    WHEN h1 < 750 THEN 30 ELSE 40 END AS held_out
            FROM base"""
        )
        con.execute(
            f"""INSERT INTO campaign_audience SELECT 'bench', 1, cid, segment,
                CASE WHEN segment = 's1' THEN (CASE WHEN h2 % 2 = 0 THEN 'a' ELSE 'b' END)
                     ELSE 'default' END,
                NULL, held_out, eligible AND NOT held_out AND h2 % 5 = 0, eligible,
                TIMESTAMP '{T0}' FROM snap"""
        )
        con.execute(
            f"""INSERT INTO send_ledger (message_key, source, campaign_id, occurrence,
                customer_id, channel, segment, variant, status, reason, attempts, due_at,
                next_attempt_at, sms_segments, cost, created_at, updated_at, sent_at)
            SELECT md5(cid), 'campaign', 'bench', 1, cid, 'sms', segment, 'x',
                CASE WHEN NOT eligible OR held_out THEN 'skipped'
                     WHEN h3 % 20 = 0 THEN 'failed' ELSE 'delivered' END,
                CASE WHEN NOT eligible THEN
                        (CASE WHEN h2 < 10 THEN 'no_address' WHEN h2 < 25 THEN 'no_consent'
                         ELSE 'suppressed' END)
                     WHEN held_out THEN 'held_out' END,
                1, TIMESTAMP '{T0}', TIMESTAMP '{T0}',
                CASE WHEN eligible AND NOT held_out THEN 1 + h3 % 2 END,
                CASE WHEN eligible AND NOT held_out THEN (1 + h3 % 2) * 0.05 END,
                TIMESTAMP '{T0}', TIMESTAMP '{T0}',
                CASE WHEN eligible AND NOT held_out
                     THEN TIMESTAMP '{T0}' + INTERVAL (i % 3600) SECOND END
            FROM snap"""
        )
        con.execute(
            f"""INSERT INTO events (event_id, customer_id, type, occurred_at, local_date,
                campaign_id, channel)
            SELECT 'k' || cid, cid, 'message_clicked', TIMESTAMP '{T0}' + INTERVAL 2 HOUR,
                DATE '2026-03-02', 'bench', 'sms'
            FROM snap WHERE eligible AND NOT held_out AND h3 % 20 = 7"""
        )
        con.execute(
            f"""INSERT INTO orders (order_id, customer_id, ordered_at, amount, status, local_date)
            SELECT 'O' || CAST(j AS VARCHAR),
                'C' || lpad(CAST(CAST(floor(random() * {recipients}) AS BIGINT) AS VARCHAR), 8,
                            '0'),
                t, CAST(round(5 + random() * 195, 2) AS DECIMAL(18, 2)),
                CASE WHEN random() < 0.03 THEN 'cancelled' ELSE 'completed' END,
                CAST(t AS DATE)
            FROM (SELECT j, TIMESTAMP '2026-02-01' + INTERVAL (CAST(random() * 60 * 86400
                    AS BIGINT)) SECOND AS t FROM range({orders}) r(j))"""
        )
        con.execute("CHECKPOINT")
    finally:
        ws.close()


HAND_SQL = """
WITH seg_start AS (
    SELECT segment, coalesce(min(sent_at), min(due_at)) AS s FROM send_ledger
    WHERE campaign_id = 'bench' AND source = 'campaign' GROUP BY segment
),
starts AS (
    SELECT a.customer_id, a.segment,
        CASE WHEN a.generic THEN 'generic' ELSE a.variant END AS arm,
        a.eligible, a.held_out, a.eligible AND NOT a.held_out AS treated,
        l.status, l.reason, l.sent_at, l.sms_segments, l.cost, st.s
    FROM campaign_audience a JOIN send_ledger l USING (campaign_id, occurrence, customer_id)
    JOIN seg_start st ON st.segment = a.segment
    WHERE a.campaign_id = 'bench'
),
goal AS (
    SELECT p.customer_id, count(*) AS n, sum(o.amount) AS revenue
    FROM starts p JOIN orders o ON o.customer_id = p.customer_id
     AND o.ordered_at >= p.s AND o.ordered_at < p.s + INTERVAL 7 DAY
    WHERE o.status IS DISTINCT FROM 'cancelled'
    GROUP BY p.customer_id
),
attributed AS (
    SELECT p.customer_id, count(*) AS n, sum(o.amount) AS revenue
    FROM starts p JOIN orders o ON o.customer_id = p.customer_id
     AND o.ordered_at >= p.sent_at AND o.ordered_at < p.sent_at + INTERVAL 7 DAY
    WHERE p.status = 'delivered' AND o.status IS DISTINCT FROM 'cancelled'
    GROUP BY p.customer_id
),
clicks AS (
    SELECT e.customer_id, max(e.occurred_at) AS at FROM events e
    WHERE e.type = 'message_clicked' AND e.campaign_id = 'bench' GROUP BY e.customer_id
),
person AS (
    SELECT p.*, coalesce(g.n, 0) AS orders, coalesce(g.revenue, 0) AS revenue,
        coalesce(c.at >= p.s, FALSE) AS clicked,
        coalesce(x.n, 0) AS attributed_orders, coalesce(x.revenue, 0) AS attributed_revenue
    FROM starts p LEFT JOIN goal g USING (customer_id) LEFT JOIN clicks c USING (customer_id)
    LEFT JOIN attributed x USING (customer_id)
)
SELECT coalesce(segment, '*') AS segment, coalesce(arm, '*') AS arm,
    count(*) AS audience, count(*) FILTER (eligible) AS eligible,
    count(*) FILTER (held_out) AS held_out, count(*) FILTER (treated) AS treated,
    count(*) FILTER (status IN ('sent', 'delivered') OR (status = 'failed'
        AND sent_at IS NOT NULL)) AS sent,
    count(*) FILTER (status = 'delivered') AS delivered,
    count(*) FILTER (status = 'failed') AS failed,
    count(*) FILTER (status = 'skipped' AND reason <> 'held_out') AS skipped,
    count(*) FILTER (treated AND clicked) AS clicked,
    count(*) FILTER (treated AND orders > 0) AS converted,
    coalesce(sum(revenue) FILTER (treated), 0) AS revenue,
    coalesce(sum(attributed_orders) FILTER (treated), 0) AS attributed_orders,
    coalesce(sum(attributed_revenue) FILTER (treated), 0) AS attributed_revenue,
    coalesce(sum(sms_segments), 0) AS sms_segments, coalesce(sum(cost), 0) AS cost,
    avg(revenue::DOUBLE) FILTER (treated) AS m1, var_samp(revenue::DOUBLE) FILTER (treated) AS v1,
    count(*) FILTER (held_out AND orders > 0) AS x0,
    avg(revenue::DOUBLE) FILTER (held_out) AS m0, var_samp(revenue::DOUBLE) FILTER (held_out) AS v0
FROM person
GROUP BY GROUPING SETS ((segment, arm), (segment), ())
"""


def hand_written(con: Any) -> list[dict[str, Any]]:
    from segmentum.analytics.stats import two_proportions, welch

    cursor = con.execute(HAND_SQL)
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    by_segment = {row["segment"]: row for row in rows if row["arm"] == "*"}
    out = []
    for row in rows:
        holdout = by_segment[row["segment"]]
        p = two_proportions(int(row["converted"]), int(row["treated"]), int(holdout["x0"]),
                            int(holdout["held_out"]))  # fmt: skip
        w = welch(int(row["treated"]), row["m1"] or 0.0, row["v1"] or 0.0,
                  int(holdout["held_out"]), holdout["m0"] or 0.0, holdout["v0"] or 0.0)  # fmt: skip
        item = {name: row[name] for name in ("segment", "arm", *COUNTS, *SUMS)}
        item.update(
            uplift_pp=100 * p.difference if p.difference is not None else None,
            uplift_pp_low=100 * p.difference_low if p.difference_low is not None else None,
            uplift_pp_high=100 * p.difference_high if p.difference_high is not None else None,
            z=p.z, p_value=p.p_value, rpr_difference=w.difference, rpr_difference_low=w.low,
            rpr_difference_high=w.high, welch_t=w.t, welch_df=w.df, welch_p_value=w.p_value,
        )  # fmt: skip
        out.append(item)
    return out


def contender(name: str, path: Path, out: Path) -> None:
    started = time.perf_counter()
    if name == "segmentum":
        from segmentum.service.reports import report_campaign
        from segmentum.service.workspace import Workspace

        ws = Workspace.open(str(path))
        opened = time.perf_counter()
        rows = report_campaign(ws, "bench").rows
        rows = [row for row in rows if not (row["segment"] == "*" and row["arm"] != "*")]
    else:
        import duckdb

        con = duckdb.connect(str(path), read_only=True)
        opened = time.perf_counter()
        rows = hand_written(con)
    seconds = time.perf_counter() - opened
    document = {
        "seconds": seconds,
        "open_seconds": opened - started,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": sorted(
            (
                {
                    key: (str(value) if key in SUMS else value)
                    for key, value in row.items()
                    if key in ("segment", "arm", *COUNTS, *SUMS, *STATS)
                }
                for row in rows
            ),
            key=lambda r: (r["segment"], r["arm"]),
        ),
    }
    out.write_text(json.dumps(document, default=str))


def same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    from decimal import Decimal

    assert [(r["segment"], r["arm"]) for r in a] == [(r["segment"], r["arm"]) for r in b]
    for x, y in zip(a, b, strict=True):
        for key in COUNTS:
            assert int(x[key]) == int(y[key]), (x["segment"], x["arm"], key, x[key], y[key])
        for key in SUMS:
            assert Decimal(x[key]) == Decimal(y[key]), (x["segment"], x["arm"], key)
        for key in STATS:
            if x[key] is None or y[key] is None:
                assert x[key] is None and y[key] is None, key  # noqa: PT018
            else:
                assert math.isclose(x[key], y[key], rel_tol=1e-9, abs_tol=1e-12), key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--contender")
    parser.add_argument("--path")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.contender:
        contender(args.contender, Path(args.path), Path(args.out))
        return
    path = HERE / "data" / f"report_{args.recipients}_{args.orders}" / "shop.duckdb"
    started = time.perf_counter()
    prepare(path, args.recipients, args.orders)
    print(f"data ready in {time.perf_counter() - started:.1f} s: {path}", file=sys.stderr)
    results: dict[str, list[dict[str, Any]]] = {"segmentum": [], "duckdb_sql": []}
    for _ in range(args.runs):
        for name in results:
            out = path.parent / f"{name}.json"
            command = [sys.executable, __file__, "--contender", name, "--path", str(path),
                       "--out", str(out)]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                raise SystemExit(f"{name} failed:\n{done.stderr[-4000:]}")
            results[name].append(json.loads(out.read_text()))
    same(results["segmentum"][0]["rows"], results["duckdb_sql"][0]["rows"])
    summary = {
        name: {
            "median_s": round(statistics.median(run["seconds"] for run in runs), 3),
            "best_s": round(min(run["seconds"] for run in runs), 3),
            "peak_rss_mb": round(max(run["rss_mb"] for run in runs), 1),
        }
        for name, runs in results.items()
    }
    document = {"recipients": args.recipients, "orders": args.orders, "runs": args.runs,
                "equal_outputs": True, "results": summary}  # fmt: skip
    (HERE / "results").mkdir(exist_ok=True)
    name = f"campaign_report_{args.recipients}_{args.orders}.json"
    (HERE / "results" / name).write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
