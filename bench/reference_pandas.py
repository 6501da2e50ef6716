"""Reference (a), for context: RFM scores + lifecycle stage for every customer in pandas.

Same definitions as bench/reference_duckdb.sql. Money is summed as integer cents (exact) and
turned back into DECIMAL(38,2) at the end.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bench.reference_polars import RANGES, K


def _score(i: pd.Series, n: int) -> pd.Series:
    if n <= 1:
        return pd.Series(1, index=i.index, dtype="int64")
    return np.maximum((i * K + n - 2) // (n - 1), 1)


def run(data: Path, as_of: datetime, today: date) -> pa.Table:
    read = {"dtype_backend": "pyarrow"}
    customers = pd.read_parquet(
        data / "customers.parquet", columns=["customer_id", "signup_at"], **read
    )
    orders = pd.read_parquet(
        data / "orders.parquet",
        columns=["customer_id", "ordered_at", "amount", "status", "local_date"],
        **read,
    )
    universe = customers.loc[
        customers.signup_at.isna() | (customers.signup_at <= as_of), ["customer_id"]
    ]
    live = orders.loc[
        (orders.status.isna() | (orders.status != "cancelled")).fillna(False)
        & (orders.ordered_at <= as_of)
    ]
    epoch_today = (today - date(1970, 1, 1)).days
    days_ago = epoch_today - live.local_date.astype("int32[pyarrow]").astype("int64[pyarrow]")
    live = live.assign(
        days_ago=days_ago,
        q_ago=days_ago.where(days_ago > 60),
        p_ago=days_ago.where(days_ago <= 60),
    )
    per_customer = live.groupby("customer_id").agg(
        recency_days=("days_ago", "min"),
        frequency=("days_ago", "size"),
        monetary=("amount", "sum"),
        q_ago=("q_ago", "min"),  # latest older order = fewest days ago among days_ago > 60
        p_ago=("p_ago", "max"),  # earliest recent order = most days ago among days_ago <= 60
    )
    base = universe.merge(per_customer, left_on="customer_id", right_index=True, how="left")

    scored = base.loc[
        base.recency_days.notna(), ["customer_id", "recency_days", "frequency", "monetary"]
    ].copy()
    n = len(scored)
    scored["neg_recency"] = -scored.recency_days
    for column, value in (
        ("r_score", "neg_recency"),
        ("f_score", "frequency"),
        ("m_score", "monetary"),
    ):
        ordered = scored.sort_values([value, "customer_id"], kind="stable")
        position = pd.Series(np.arange(n, dtype="int64"), index=ordered.index)
        scored[column] = _score(position, n).reindex(scored.index)
    group = pd.Series("Others", index=scored.index, dtype=object)
    unmatched = pd.Series(True, index=scored.index)
    for name, r, f, m in RANGES:
        hit = (
            unmatched
            & scored.r_score.between(*r)
            & scored.f_score.between(*f)
            & scored.m_score.between(*m)
        )
        group[hit] = name
        unmatched &= ~hit
    scored["rfm_group"] = group

    out = base[["customer_id", "recency_days", "q_ago", "p_ago"]].merge(
        scored[
            ["customer_id", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_group"]
        ],
        on="customer_id",
        how="left",
    )
    ago = out.recency_days
    returned = (out.q_ago.notna() & ((out.q_ago - out.p_ago) > 120)).fillna(False)
    stage = np.select(
        [
            ago.isna().to_numpy(bool),
            ((ago <= 60) & returned).fillna(False).to_numpy(bool),
            (ago <= 60).fillna(False).to_numpy(bool),
            (ago <= 120).fillna(False).to_numpy(bool),
            (ago <= 180).fillna(False).to_numpy(bool),
        ],
        ["zero", "returned", "active", "pre_churn", "churn"],
        default="gone",
    )
    out["stage"] = stage
    out["days_since_last_purchase"] = out.recency_days
    columns = [
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
    ]
    return pa.Table.from_pandas(out[columns], preserve_index=False)
