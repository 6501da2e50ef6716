"""Predictive (BTYD) relations: the repeat-purchase summary and the stored predictions.

The summary follows the conventions of the buy-till-you-die literature and of the `lifetimes`
library's ``summary_data_from_transaction_data``: orders (the purchases of the segment
semantics: not cancelled, up to ``as_of``) are grouped by (customer, period), amounts summed
per period; periods are local days (``D``) or weeks Monday–Sunday (``W``, pandas ``W-SUN``).
Per customer: ``frequency`` = periods with a purchase after the first, ``recency`` = periods
from the first to the last purchase period, ``T`` = periods from the first purchase period to
the period of the as-of date, ``monetary`` = mean of the per-period sums after the first period
(0 when frequency = 0). Everything is computed in the engine; nothing here reads the clock.

Predictive metrics (``p_alive``, ``churn_risk``, ``expected_purchases``, ``clv``) are read from
the predictions table that ``segmentum clv`` writes to the data engine; a definition that uses
one is invalid (SEG114) while that table does not exist.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt

from segmentum.catalog.types import ValueType

if TYPE_CHECKING:
    from segmentum.compiler.features import Features

Table = Any  # ibis.Table

#: The data engine table of per-customer predictions (written by the service layer).
PREDICTIONS_TABLE = "clv_predictions"
#: Predictive metric -> value type; ``churn_risk`` is ``1 - p_alive``.
PREDICTIVE_TYPES: dict[str, ValueType] = {
    "p_alive": ValueType.NUMBER,
    "churn_risk": ValueType.NUMBER,
    "expected_purchases": ValueType.NUMBER,
    "clv": ValueType.NUMBER,
}
#: Stored prediction columns (besides customer_id) that metrics read.
PREDICTION_COLUMNS: tuple[str, ...] = ("p_alive", "expected_purchases", "expected_aov", "clv")
#: Period code -> days per period.
PERIODS: dict[str, int] = {"D": 1, "W": 7}
#: A Monday long ago: week indexes count whole weeks from it (pandas W-SUN weeks).
EPOCH = date(1900, 1, 1)
SUMMARY_COLUMNS: tuple[str, ...] = ("customer_id", "frequency", "recency", "T", "monetary")


def period_days(period: str) -> int:
    try:
        return PERIODS[period]
    except KeyError:
        raise ValueError(f"unknown period {period!r}: use D (days) or W (weeks)") from None


def period_index(day: date, period: str) -> int:
    """The index of the period holding ``day`` (days or Monday-based weeks since EPOCH)."""
    return (day - EPOCH).days // period_days(period)


def _period_expr(local_date: Any, period: str) -> Any:
    days = local_date.delta(ibis.literal(EPOCH, type=dt.date), unit="day")
    length = period_days(period)
    return days if length == 1 else days // length


def _per_period(features: Features, period: str) -> Any:
    """(customer_id, _period, _spend): one row per customer and purchase period."""
    orders = features._live_orders()
    universe = features.universe()
    orders = orders.semi_join(universe, orders.customer_id == universe.customer_id)
    return orders.group_by(
        customer_id=orders.customer_id, _period=_period_expr(orders.local_date, period)
    ).aggregate(_spend=orders.amount.sum())


def btyd_summary(features: Features, period: str) -> Table:
    """customer_id, frequency, recency, T (int64) and monetary (float64), one row per customer
    with at least one purchase up to as_of."""
    per = _per_period(features, period)
    per = per.mutate(_first=per._period.min().over(group_by=per.customer_id))
    agg = per.group_by("customer_id").aggregate(
        _n=per.count(),
        _lo=per._period.min(),
        _hi=per._period.max(),
        _repeat=per._spend.sum(where=per._period != per._first),
    )
    now = period_index(features.clock.today, period)
    repeats = (agg._n - 1).cast("int64")
    monetary = ibis.ifelse(
        agg._n > 1,
        agg._repeat.fill_null(0).cast("float64") / repeats.cast("float64"),
        ibis.literal(0.0, type=dt.float64),
    )
    return agg.select(
        customer_id=agg.customer_id,
        frequency=repeats,
        recency=(agg._hi - agg._lo).cast("int64"),
        T=(ibis.literal(now, type=dt.int64) - agg._lo).cast("int64"),
        monetary=monetary,
    )


def btyd_holdout(calibration: Features, end: Features, period: str) -> Table:
    """The calibration summary plus ``frequency_holdout`` (purchase periods after the
    calibration period, up to the end's period) and ``duration_holdout`` (periods between)."""
    summary = btyd_summary(calibration, period)
    cal_index = period_index(calibration.clock.today, period)
    end_index = period_index(end.clock.today, period)
    per = _per_period(end, period)
    per = per.filter(per._period > cal_index)
    counts = per.group_by(_hcid=per.customer_id).aggregate(frequency_holdout=per.count())
    joined = summary.left_join(counts, summary.customer_id == counts._hcid).drop("_hcid")
    return joined.mutate(
        frequency_holdout=joined.frequency_holdout.fill_null(0).cast("int64"),
        duration_holdout=ibis.literal(end_index - cal_index, type=dt.int64),
    )


def summary_groups(summary: Table) -> Table:
    """(frequency, recency, T, customers): the distinct summaries the BG/NBD fit needs."""
    return summary.group_by(["frequency", "recency", "T"]).aggregate(customers=summary.count())


def join_predictions(rel: Any, tables: Mapping[str, Table], names: Collection[str]) -> Any:
    """``m_<name>`` columns for the predictive metrics, left-joined from the stored table
    (customers without a prediction get NULL: no comparison holds, no rank)."""
    if not names:
        return rel
    stored = tables[PREDICTIONS_TABLE]
    columns: dict[str, Any] = {}
    for name in sorted(names):
        if name == "churn_risk":
            columns["m_churn_risk"] = ibis.literal(1.0, type=dt.float64) - stored.p_alive.cast(
                "float64"
            )
        else:
            columns[f"m_{name}"] = stored[name].cast("float64")
    values = stored.select(_pcid=stored.customer_id, **columns)
    return rel.left_join(values, rel.customer_id == values._pcid).drop("_pcid")
