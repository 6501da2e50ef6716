"""Segment analytics: sizes over time from the membership log, transition matrices between two
dates (lifecycle stage, RFM group), cohort retention by signup month.

Everything is set-based: the sizes are one SQL statement over ``membership_log`` in the app
store; transitions and cohorts are Ibis expressions that the data engine evaluates (the two
as-ofs are compiled separately and joined in the engine).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import ibis

#: The label of a customer absent at one side of a transition (not yet signed up, not scored).
ABSENT = "(none)"


def sizes_sql(boundaries: Sequence[datetime]) -> tuple[str, list[Any]]:
    """Segment sizes at each boundary instant (naive UTC): entries minus exits effective at or
    before it. One row per (segment, boundary) for the boundaries after a segment's first
    change."""
    values = ", ".join("(CAST(? AS TIMESTAMP))" for _ in boundaries)
    sql = f"""
        WITH boundaries AS (SELECT * FROM (VALUES {values}) AS b (boundary_at)),
        deltas AS (
            SELECT segment, effective_at,
                sum(CASE change WHEN 'entered' THEN 1 ELSE -1 END) AS delta
            FROM membership_log GROUP BY segment, effective_at
        )
        SELECT d.segment, b.boundary_at AS at, sum(d.delta) AS size
        FROM boundaries b JOIN deltas d ON d.effective_at <= b.boundary_at
        GROUP BY d.segment, b.boundary_at ORDER BY d.segment, b.boundary_at
    """
    return sql, [boundary.replace(tzinfo=None) for boundary in boundaries]


def segment_sizes(
    query: Callable[[str, Sequence[Any]], list[dict[str, Any]]],
    boundaries: Sequence[datetime],
) -> list[dict[str, Any]]:
    if not boundaries:
        return []
    sql, params = sizes_sql(boundaries)
    return [
        {"segment": row["segment"], "at": row["at"], "size": int(row["size"])}
        for row in query(sql, params)
    ]


def transition_matrix(before: ibis.Table, after: ibis.Table, column: str) -> ibis.Table:
    """(from, to, customers): each customer's ``column`` at the earlier and the later as-of;
    a customer missing on one side is ``(none)`` there."""
    left = before.select(_a_id=before.customer_id, _a=before[column].cast("string"))
    right = after.select(_b_id=after.customer_id, _b=after[column].cast("string"))
    joined = left.outer_join(right, left._a_id == right._b_id)
    pairs = joined.select(
        **{"from": joined._a.fill_null(ABSENT), "to": joined._b.fill_null(ABSENT)}
    )
    return (
        pairs.group_by(["from", "to"]).aggregate(customers=pairs.count()).order_by(["from", "to"])
    )


def cohort_retention(
    customers: ibis.Table, orders: ibis.Table, as_of: datetime, cancelled: str
) -> ibis.Table:
    """(cohort, month, cohort_size, active, retention): of the customers who signed up in
    ``cohort`` (YYYY-MM, by signup_date), the share who ordered in the ``month``-th calendar
    month after (0 = the signup month), up to ``as_of``."""
    signed = customers.filter(customers.signup_date.notnull()).select(
        customer_id=customers.customer_id,
        cohort_index=customers.signup_date.year() * 12 + customers.signup_date.month() - 1,
    )
    limit = as_of.replace(tzinfo=None)
    live = orders.filter(
        (orders.status.isnull() | (orders.status != cancelled)) & (orders.ordered_at <= limit)
    )
    bought = live.select(
        _oid=live.customer_id,
        order_index=live.local_date.year() * 12 + live.local_date.month() - 1,
    ).distinct()
    joined = signed.join(bought, signed.customer_id == bought._oid)
    active = (
        joined.filter(joined.order_index >= joined.cohort_index)
        .mutate(month=joined.order_index - joined.cohort_index)
        .group_by(["cohort_index", "month"])
        .aggregate(active=ibis._.customer_id.nunique())
    )
    sizes = signed.group_by("cohort_index").aggregate(cohort_size=signed.count())
    out = active.join(sizes, "cohort_index")
    year = (out.cohort_index // 12).cast("int64")
    month_of_year = (out.cohort_index % 12 + 1).cast("int64")
    cohort = year.cast("string") + ibis.literal("-") + month_of_year.cast("string").lpad(2, "0")
    return out.select(
        cohort=cohort,
        month=out.month.cast("int64"),
        cohort_size=out.cohort_size,
        active=out.active,
        retention=out.active.cast("float64") / out.cohort_size.cast("float64"),
    ).order_by(["cohort", "month"])
