"""Reference (a): RFM scores + lifecycle stage for every customer as one Polars lazy query.

Same definitions as bench/reference_duckdb.sql (docs/segment-semantics.md; default settings:
thresholds 60/120/180, returned gap 120, k = 5, preset ``ranges``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa

K = 5
RANGES = (  # name, (r lo, hi), (f lo, hi), (m lo, hi); first match wins, else Others
    ("Champions", (5, 5), (5, 5), (5, 5)),
    ("Potential Loyalist", (3, 5), (3, 5), (2, 5)),
    ("Loyal Customers", (2, 4), (2, 4), (2, 4)),
    ("Promising", (3, 4), (1, 3), (3, 5)),
    ("New Customers", (4, 5), (1, 3), (1, 5)),
    ("Can't Lose Them", (1, 2), (3, 4), (4, 5)),
    ("At Risk", (1, 2), (2, 5), (4, 5)),
    ("Need Attention", (1, 3), (3, 5), (3, 5)),
    ("About To Sleep", (2, 3), (1, 3), (1, 4)),
    ("Lost", (1, 1), (1, 5), (1, 5)),
)


def _score(position: str) -> pl.Expr:
    """max(1, ceil(K·i/(n−1))) for the 0-based position i among n scored customers."""
    n = pl.col("n")
    scaled = (pl.col(position) * K + n - 2) // pl.max_horizontal(n - 1, pl.lit(1))
    return pl.when(n <= 1).then(1).otherwise(pl.max_horizontal(scaled, pl.lit(1)))


def _group() -> pl.Expr:
    expr: pl.Expr | None = None
    for name, r, f, m in RANGES:
        cond = (
            pl.col("r_score").is_between(*r)
            & pl.col("f_score").is_between(*f)
            & pl.col("m_score").is_between(*m)
        )
        expr = (pl.when(cond) if expr is None else expr.when(cond)).then(pl.lit(name))
    assert expr is not None
    return expr.otherwise(pl.lit("Others"))


def query(data: Path, as_of: datetime, today: date) -> pl.LazyFrame:
    """``as_of``: naive UTC instant; ``today``: its local date in the workspace timezone."""
    customers = pl.scan_parquet(data / "customers.parquet")
    orders = pl.scan_parquet(data / "orders.parquet")
    universe = customers.filter(
        pl.col("signup_at").is_null() | (pl.col("signup_at") <= as_of)
    ).select("customer_id")
    date = pl.col("local_date")
    per_customer = (
        orders.filter(
            (pl.col("status").is_null() | (pl.col("status") != "cancelled"))
            & (pl.col("ordered_at") <= as_of)
        )
        .group_by("customer_id")
        .agg(
            last_date=date.max(),
            frequency=pl.len().cast(pl.Int64),
            monetary=pl.col("amount").sum().cast(pl.Decimal(38, 2)),
            q=date.filter(date <= today - timedelta(days=61)).max(),
            p=date.filter(date >= today - timedelta(days=60)).min(),
        )
    )
    base = universe.join(per_customer, on="customer_id", how="left").with_columns(
        recency_days=(pl.lit(today) - pl.col("last_date")).dt.total_days().cast(pl.Int64)
    )
    scored = (
        base.filter(pl.col("last_date").is_not_null())
        .sort(["recency_days", "customer_id"], descending=[True, False])
        .with_row_index("ri")
        .sort(["frequency", "customer_id"])
        .with_row_index("fi")
        .sort(["monetary", "customer_id"])
        .with_row_index("mi")
        .with_columns(n=pl.len())
        .select(
            "customer_id",
            r_score=_score("ri").cast(pl.Int64),
            f_score=_score("fi").cast(pl.Int64),
            m_score=_score("mi").cast(pl.Int64),
        )
        .with_columns(rfm_group=_group())
    )
    last = pl.col("last_date")
    stage = (
        pl.when(last.is_null())
        .then(pl.lit("zero"))
        .when(
            (last >= today - timedelta(days=60))
            & pl.col("q").is_not_null()
            & ((pl.col("p") - pl.col("q")).dt.total_days() > 120)
        )
        .then(pl.lit("returned"))
        .when(last >= today - timedelta(days=60))
        .then(pl.lit("active"))
        .when(last >= today - timedelta(days=120))
        .then(pl.lit("pre_churn"))
        .when(last >= today - timedelta(days=180))
        .then(pl.lit("churn"))
        .otherwise(pl.lit("gone"))
    )
    return base.join(scored, on="customer_id", how="left").select(
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "rfm_group",
        stage=stage,
        days_since_last_purchase="recency_days",
    )


def run(data: Path, as_of: datetime, today: date) -> pa.Table:
    return query(data, as_of, today).collect().to_arrow()
