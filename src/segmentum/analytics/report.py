"""The campaign report: per segment × arm (each variant, the generic share), per segment and
for the whole campaign, from the audience snapshot (who was in the segment when the campaign
went out), the send ledger, message events and orders.

One SQL statement in the app store (which shares the data engine's database by default)
computes a row per (occurrence, customer) and aggregates it with GROUPING SETS; Python only
derives rates and runs the tests on the aggregates (:mod:`segmentum.analytics.stats`).

Definitions (docs/measurement.md):
- treated = eligible and not held out (skipped and failed included: intent to treat).
- A segment's send start = the earliest ``sent_at`` of its messages in that occurrence, or
  the earliest ``due_at`` when none was sent. Both arms count goal purchases (orders not
  cancelled, of the goal's category/product when given) in [start, start + N days).
- Uplift of a variant or generic row compares it with the holdout of its whole segment (the
  holdout draw is independent of the variant draw); a segment with its holdout; the campaign
  and the all-segments generic row with every held-out customer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from segmentum.analytics.attribution import attributed_sql
from segmentum.analytics.stats import two_proportions, welch
from segmentum.catalog.tables import CANCELLED_STATUS

#: Skip reasons reported as their own columns (``held_out`` is the holdout itself).
SKIP_REASONS: tuple[str, ...] = (
    "no_address", "no_consent", "suppressed", "frequency_cap", "budget", "render_error",
    "cancelled",
)  # fmt: skip
ALL = "*"
GENERIC = "generic"

COLUMNS: tuple[str, ...] = (
    "segment", "arm", "audience", "eligible", "held_out", "treated", "sent", "delivered",
    "failed", "pending", "skipped", *(f"skipped_{r}" for r in SKIP_REASONS), "clicked",
    "replied", "unsubscribed", "converted", "revenue", "conversion_rate",
    "revenue_per_recipient", "attributed_orders", "attributed_revenue", "sms_segments", "cost",
    "roi", "holdout_n", "holdout_converted", "holdout_conversion_rate",
    "holdout_revenue_per_recipient", "uplift_pp", "uplift_pp_low", "uplift_pp_high",
    "relative_uplift", "relative_uplift_low", "relative_uplift_high", "z", "p_value",
    "rpr_difference", "rpr_difference_low", "rpr_difference_high", "welch_t", "welch_df",
    "welch_p_value", "incremental_conversions", "incremental_revenue",
)  # fmt: skip


@dataclass(frozen=True)
class Goal:
    days: int = 7
    category: str | None = None
    product_id: str | None = None


@dataclass
class CampaignReport:
    campaign_id: str
    channel: str
    goal: Goal
    rows: list[dict[str, Any]] = field(default_factory=list)

    def row(self, segment: str, arm: str) -> dict[str, Any]:
        for row in self.rows:
            if row["segment"] == segment and row["arm"] == arm:
                return row
        raise KeyError((segment, arm))


def _goal_filter(goal: Goal) -> tuple[str, list[Any]]:
    if goal.category is None and goal.product_id is None:
        return "", []
    conditions, params = [], []
    if goal.category is not None:
        conditions.append("p.category = ?")
        params.append(goal.category)
    if goal.product_id is not None:
        conditions.append("i.product_id = ?")
        params.append(goal.product_id)
    sql = (
        " AND EXISTS (SELECT 1 FROM order_items i LEFT JOIN products p "
        "ON p.product_id = i.product_id WHERE i.order_id = o.order_id AND "
        + " AND ".join(conditions)
        + ")"
    )
    return sql, params


def person_sql(
    campaign_id: str, channel: str, goal: Goal, windows: Mapping[str, int]
) -> tuple[str, list[Any]]:
    """One row per (occurrence, customer) of the snapshot with its outcome."""
    goal_sql, goal_params = _goal_filter(goal)
    attributed, attributed_params = attributed_sql(campaign_id, windows)
    sql = f"""
        WITH starts AS (
            SELECT occurrence, segment, coalesce(min(sent_at), min(due_at)) AS start_at
            FROM send_ledger WHERE campaign_id = ? AND source = 'campaign'
            GROUP BY occurrence, segment
        ),
        people AS (
            SELECT a.occurrence, a.customer_id, a.segment,
                CASE WHEN a.generic THEN '{GENERIC}' ELSE a.variant END AS arm,
                a.eligible, a.held_out, a.eligible AND NOT a.held_out AS treated,
                l.status, l.reason, l.sent_at, l.sms_segments, l.cost, s.start_at
            FROM campaign_audience a
            JOIN send_ledger l ON l.campaign_id = a.campaign_id
             AND l.occurrence = a.occurrence AND l.customer_id = a.customer_id
             AND l.source = 'campaign'
            JOIN starts s ON s.occurrence = a.occurrence AND s.segment = a.segment
            WHERE a.campaign_id = ?
        ),
        goal_orders AS (
            SELECT o.order_id, o.customer_id, o.ordered_at, o.amount FROM orders o
            WHERE (o.status IS NULL OR o.status <> ?)
              AND o.customer_id IN (SELECT customer_id FROM people){goal_sql}
        ),
        outcomes AS (
            SELECT p.occurrence, p.customer_id, count(o.order_id) AS orders,
                coalesce(sum(o.amount), 0) AS revenue
            FROM people p JOIN goal_orders o ON o.customer_id = p.customer_id
             AND o.ordered_at >= p.start_at
             AND o.ordered_at < p.start_at + CAST(? AS INTEGER) * INTERVAL '1 day'
            GROUP BY p.occurrence, p.customer_id
        ),
        reactions AS (
            SELECT customer_id,
                max(CASE WHEN type = 'message_clicked' THEN occurred_at END) AS clicked_at,
                max(CASE WHEN type = 'message_replied' THEN occurred_at END) AS replied_at,
                max(CASE WHEN type = 'message_unsubscribed' THEN occurred_at END)
                    AS unsubscribed_at
            FROM events
            WHERE campaign_id = ?
              AND type IN ('message_clicked', 'message_replied', 'message_unsubscribed')
            GROUP BY customer_id
        ),
        opt_outs AS (
            SELECT customer_id, max(changed_at) AS changed_at FROM subscriptions
            WHERE channel = ? AND status = 'opted_out' GROUP BY customer_id
        ),
        attributed AS (
            SELECT occurrence, customer_id, count(*) AS orders, sum(amount) AS revenue
            FROM ({attributed}) x GROUP BY occurrence, customer_id
        )
        SELECT p.*, coalesce(o.orders, 0) AS orders, coalesce(o.revenue, 0) AS revenue,
            coalesce(r.clicked_at >= p.start_at, FALSE) AS clicked,
            coalesce(r.replied_at >= p.start_at, FALSE) AS replied,
            coalesce(r.unsubscribed_at >= p.start_at, FALSE)
                OR coalesce(u.changed_at >= p.start_at
                    AND u.changed_at < p.start_at + CAST(? AS INTEGER) * INTERVAL '1 day',
                    FALSE) AS unsubscribed,
            coalesce(x.orders, 0) AS attributed_orders,
            coalesce(x.revenue, 0) AS attributed_revenue
        FROM people p
        LEFT JOIN outcomes o ON o.occurrence = p.occurrence AND o.customer_id = p.customer_id
        LEFT JOIN reactions r ON r.customer_id = p.customer_id
        LEFT JOIN opt_outs u ON u.customer_id = p.customer_id
        LEFT JOIN attributed x ON x.occurrence = p.occurrence AND x.customer_id = p.customer_id
    """
    params: list[Any] = [
        campaign_id, campaign_id, CANCELLED_STATUS, *goal_params, goal.days, campaign_id,
        channel, *attributed_params, goal.days,
    ]  # fmt: skip
    return sql, params


def aggregate_sql(person: str) -> str:
    """Aggregates of the person rows per (segment, arm), segment, arm and overall."""
    skipped = ",\n".join(
        f"count(*) FILTER (WHERE status = 'skipped' AND reason = '{reason}') AS skipped_{reason}"
        for reason in SKIP_REASONS
    )
    return f"""
        WITH person AS ({person})
        SELECT segment, arm, GROUPING(segment) AS all_segments, GROUPING(arm) AS all_arms,
            count(*) AS audience,
            count(*) FILTER (WHERE eligible) AS eligible,
            count(*) FILTER (WHERE held_out) AS held_out,
            count(*) FILTER (WHERE treated) AS treated,
            count(*) FILTER (WHERE status IN ('sent', 'delivered')
                OR (status = 'failed' AND sent_at IS NOT NULL)) AS sent,
            count(*) FILTER (WHERE status = 'delivered') AS delivered,
            count(*) FILTER (WHERE status = 'failed') AS failed,
            count(*) FILTER (WHERE status IN ('queued', 'sending')) AS pending,
            count(*) FILTER (WHERE status = 'skipped' AND reason <> 'held_out') AS skipped,
            {skipped},
            count(*) FILTER (WHERE treated AND clicked) AS clicked,
            count(*) FILTER (WHERE treated AND replied) AS replied,
            count(*) FILTER (WHERE treated AND unsubscribed) AS unsubscribed,
            count(*) FILTER (WHERE treated AND orders > 0) AS converted,
            coalesce(sum(revenue) FILTER (WHERE treated), 0) AS revenue,
            avg(CAST(revenue AS DOUBLE PRECISION)) FILTER (WHERE treated) AS treated_mean,
            var_samp(CAST(revenue AS DOUBLE PRECISION)) FILTER (WHERE treated) AS treated_var,
            count(*) FILTER (WHERE held_out AND orders > 0) AS holdout_converted,
            coalesce(sum(revenue) FILTER (WHERE held_out), 0) AS holdout_revenue,
            avg(CAST(revenue AS DOUBLE PRECISION)) FILTER (WHERE held_out) AS holdout_mean,
            var_samp(CAST(revenue AS DOUBLE PRECISION)) FILTER (WHERE held_out) AS holdout_var,
            coalesce(sum(attributed_orders) FILTER (WHERE treated), 0) AS attributed_orders,
            coalesce(sum(attributed_revenue) FILTER (WHERE treated), 0) AS attributed_revenue,
            coalesce(sum(sms_segments), 0) AS sms_segments,
            coalesce(sum(cost), 0) AS cost
        FROM person
        GROUP BY GROUPING SETS ((segment, arm), (segment), (arm), ())
    """


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _finish_row(row: dict[str, Any], holdout: Mapping[str, Any]) -> dict[str, Any]:
    """Rates, ROI and the tests of one aggregate row against its holdout aggregates."""
    out = {name: row.get(name) for name in COLUMNS}
    treated = int(row["treated"])
    revenue = _decimal(row["revenue"])
    cost = _decimal(row["cost"])
    attributed = _decimal(row["attributed_revenue"])
    out["revenue"] = revenue
    out["cost"] = cost
    out["attributed_revenue"] = attributed
    out["conversion_rate"] = _ratio(int(row["converted"]), treated)
    out["revenue_per_recipient"] = _ratio(float(revenue), treated)
    out["roi"] = float((attributed - cost) / cost) if cost else None
    n0 = int(holdout["held_out"])
    x0 = int(holdout["holdout_converted"])
    out["holdout_n"] = n0
    out["holdout_converted"] = x0
    out["holdout_conversion_rate"] = _ratio(x0, n0)
    out["holdout_revenue_per_recipient"] = _ratio(float(_decimal(holdout["holdout_revenue"])), n0)
    proportions = two_proportions(int(row["converted"]), treated, x0, n0)
    out["uplift_pp"] = None if proportions.difference is None else 100 * proportions.difference
    out["uplift_pp_low"] = (
        None if proportions.difference_low is None else 100 * proportions.difference_low
    )
    out["uplift_pp_high"] = (
        None if proportions.difference_high is None else 100 * proportions.difference_high
    )
    out["relative_uplift"] = proportions.relative
    out["relative_uplift_low"] = proportions.relative_low
    out["relative_uplift_high"] = proportions.relative_high
    out["z"] = proportions.z
    out["p_value"] = proportions.p_value
    means = welch(
        treated,
        float(row["treated_mean"] or 0.0),
        float(row["treated_var"] or 0.0),
        n0,
        float(holdout["holdout_mean"] or 0.0),
        float(holdout["holdout_var"] or 0.0),
    )
    out["rpr_difference"] = means.difference
    out["rpr_difference_low"] = means.low
    out["rpr_difference_high"] = means.high
    out["welch_t"] = means.t
    out["welch_df"] = means.df
    out["welch_p_value"] = means.p_value
    if proportions.difference is not None:
        out["incremental_conversions"] = proportions.difference * treated
    if means.difference is not None:
        out["incremental_revenue"] = means.difference * treated
    for name in COLUMNS:
        if name.startswith("skipped") or name in (
            "audience", "eligible", "held_out", "treated", "sent", "delivered", "failed",
            "pending", "clicked", "replied", "unsubscribed", "converted", "attributed_orders",
            "sms_segments",
        ):  # fmt: skip
            out[name] = int(out[name] or 0)
    return out


def campaign_report(
    query: Callable[[str, Sequence[Any]], list[dict[str, Any]]],
    campaign_id: str,
    channel: str,
    goal: Goal,
    windows: Mapping[str, int],
    segment_order: Sequence[str],
    arm_order: Sequence[str],
) -> CampaignReport:
    """Rows in ``segment_order``: each segment's arms (``arm_order``, then generic), the
    segment's total (arm ``*``); then the generic share across segments and the campaign
    (segment ``*``, arm ``*``). ``query`` runs SQL in the app store (``AppStore.query``)."""
    person, params = person_sql(campaign_id, channel, goal, windows)
    aggregates = query(aggregate_sql(person), params)
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for row in aggregates:
        segment = ALL if row["all_segments"] else str(row["segment"])
        arm = ALL if row["all_arms"] else str(row["arm"])
        if segment == ALL and arm not in (ALL, GENERIC):
            continue
        by_key[(segment, arm)] = {**row, "segment": segment, "arm": arm}
    report = CampaignReport(campaign_id, channel, goal)
    if not by_key:
        return report
    arms_rank = {arm: index for index, arm in enumerate([*arm_order, GENERIC])}
    segment_rank = {segment: index for index, segment in enumerate(segment_order)}
    overall = by_key[(ALL, ALL)]
    keys = sorted(
        (key for key in by_key if key[0] != ALL),
        key=lambda k: (
            segment_rank.get(k[0], len(segment_rank)),
            k[0],
            k[1] == ALL,
            arms_rank.get(k[1], len(arms_rank)),
            k[1],
        ),
    )
    keys += [key for key in ((ALL, GENERIC), (ALL, ALL)) if key in by_key]
    for key in keys:
        holdout = overall if key[0] == ALL else by_key[(key[0], ALL)]
        report.rows.append(_finish_row(by_key[key], holdout))
    return report


def person_rows(
    query: Callable[[str, Sequence[Any]], list[dict[str, Any]]],
    campaign_id: str,
    channel: str,
    goal: Goal,
    windows: Mapping[str, int],
) -> list[dict[str, Any]]:
    """The per-recipient rows behind the report (for tests and exports)."""
    person, params = person_sql(campaign_id, channel, goal, windows)
    return query(f"SELECT * FROM ({person}) q ORDER BY occurrence, customer_id", params)
