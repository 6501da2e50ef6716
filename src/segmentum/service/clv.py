"""Customer lifetime value use cases: the BTYD summary, model fits, predictions, validation.

The summary is computed in the data engine (compiler); only the distinct (x, t_x, T) summaries
with their counts and the repeat customers' (x, m) leave it for the fit; predictions stream
back as Arrow batches through NumPy/SciPy and are written to the data engine's
``clv_predictions`` table, which predictive segment metrics read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pyarrow as pa

from segmentum.compiler.predictive import (
    PERIODS,
    PREDICTIONS_TABLE,
    period_days,
    summary_groups,
)
from segmentum.compiler.program import compile_btyd_holdout, compile_btyd_summary
from segmentum.engine.bulk import load_arrow
from segmentum.service.clock import now_utc, resolve_as_of
from segmentum.service.defaults import DEFAULT_DISCOUNT_RATE, DEFAULT_HORIZON_DAYS, DEFAULT_PERIOD
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace
from segmentum.store.models import StoredModel, latest_model, save_model

if TYPE_CHECKING:
    from segmentum.analytics.fit import BgNbdParams, GammaGammaParams
    from segmentum.analytics.holdout import GroupRow

# SciPy and Plotly load on first use (inside the functions), so every other command starts
# fast.

BATCH_ROWS = 100_000
SUMMARY_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary")
PREDICTION_COLUMNS = ("customer_id", "p_alive", "expected_purchases", "expected_aov", "clv")
#: What the predictions are (analytics.predict.PREDICTION_SCHEMA, without importing SciPy).
PREDICTED_SCHEMA = pa.schema(
    [("customer_id", pa.string())] + [(name, pa.float64()) for name in PREDICTION_COLUMNS[1:]]
)
#: The stored predictions: the printed columns plus what they were computed from.
STORED_SCHEMA = pa.schema(
    [
        *PREDICTED_SCHEMA,
        ("as_of", pa.timestamp("us")),
        ("period", pa.string()),
        ("horizon_days", pa.int64()),
        ("discount_rate", pa.float64()),
        ("model_id", pa.string()),
    ]
)


def _period(period: str) -> str:
    if period not in PERIODS:
        raise ServiceError(f"unknown period {period!r}: use D (days) or W (weeks)")
    return period


def _local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def summary_table(
    ws: Workspace, as_of: date | None, period: str = DEFAULT_PERIOD
) -> tuple[ibis.Table, datetime]:
    """The BTYD summary (ordered by customer_id) and the instant it is as of."""
    instant = resolve_as_of(as_of, ws.settings.timezone)
    return _summary_at(ws, instant, _period(period)), instant


def _summary_at(ws: Workspace, instant: datetime, period: str) -> ibis.Table:
    table = compile_btyd_summary(ws.catalog, ws.settings, ws.tables(), instant, period)
    return table.order_by("customer_id")


def _column(table: pa.Table, name: str) -> Any:
    return table.column(name).to_numpy().astype(np.float64)


@dataclass(frozen=True)
class FittedModels:
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams


def fit_summary(summary: ibis.Table) -> tuple[dict[str, Any], int]:
    """Fit both models on a summary expression: the parameters document (without as_of and
    period) and the number of customers."""
    from segmentum.analytics.fit import FitError, fit_bgnbd, fit_gamma_gamma

    groups = summary_groups(summary).to_pyarrow()
    repeaters = (
        summary.filter((summary.frequency > 0) & (summary.monetary > 0))
        .select("frequency", "monetary")
        .to_pyarrow()
    )
    try:
        bgnbd = fit_bgnbd(
            _column(groups, "frequency"),
            _column(groups, "recency"),
            _column(groups, "T"),
            _column(groups, "customers"),
        )
        gamma_gamma = fit_gamma_gamma(
            _column(repeaters, "frequency"), _column(repeaters, "monetary")
        )
    except FitError as error:
        raise ServiceError(f"cannot fit the CLV models: {error}") from error
    return {"bgnbd": bgnbd.as_dict(), "gamma_gamma": gamma_gamma.as_dict()}, bgnbd.customers


def fit(ws: Workspace, as_of: date | None, period: str = DEFAULT_PERIOD) -> dict[str, Any]:
    """Fit BG/NBD and Gamma-Gamma at ``as_of``, store them, and return the document
    ``{"as_of", "period", "bgnbd": {...}, "gamma_gamma": {...}}``."""
    period = _period(period)
    instant = resolve_as_of(as_of, ws.settings.timezone)
    parameters, customers = fit_summary(_summary_at(ws, instant, period))
    day = _local_date(instant, ws.settings.timezone)
    save_model(ws.store, instant, day, period, parameters, customers, now_utc())
    return {"as_of": day.isoformat(), "period": period, **parameters}


def _models(parameters: dict[str, Any]) -> FittedModels:
    from segmentum.analytics.fit import BgNbdParams, GammaGammaParams

    def values(block: dict[str, Any], names: tuple[str, ...]) -> list[float]:
        return [float(block[name]["value"]) for name in names]

    return FittedModels(
        BgNbdParams(*values(parameters["bgnbd"], ("r", "alpha", "a", "b"))),
        GammaGammaParams(*values(parameters["gamma_gamma"], ("p", "q", "v"))),
    )


def current_model(ws: Workspace) -> StoredModel:
    stored = latest_model(ws.store)
    if stored is None:
        raise ServiceError("no fitted CLV model: run `segmentum clv fit` first")
    return stored


def prediction_batches(
    summary: ibis.Table,
    models: FittedModels,
    period: str,
    horizon_days: int,
    discount_rate: float,
) -> Iterator[pa.RecordBatch]:
    """Predictions batch by batch (vectorised NumPy/SciPy over each Arrow batch)."""
    from segmentum.analytics.predict import predict_batch

    for batch in summary.to_pyarrow_batches(chunk_size=BATCH_ROWS):
        yield predict_batch(
            batch,
            models.bgnbd,
            models.gamma_gamma,
            period_days(period),
            horizon_days,
            discount_rate,
        )


def _check_horizon(horizon_days: int, discount_rate: float) -> None:
    if horizon_days < 0:
        raise ServiceError("the horizon must be 0 or more days")
    if discount_rate <= -1:
        raise ServiceError("the discount rate must be greater than -1")


def predict(
    ws: Workspace,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
) -> tuple[pa.Table, StoredModel]:
    """Predictions of the current model for every customer of its summary, stored in the
    data engine (replacing the previous ones) and returned."""
    _check_horizon(horizon_days, discount_rate)
    stored = current_model(ws)
    summary = _summary_at(ws, stored.as_of, stored.period)
    batches = list(
        prediction_batches(
            summary, _models(stored.parameters), stored.period, horizon_days, discount_rate
        )
    )
    table = pa.Table.from_batches(batches, schema=PREDICTED_SCHEMA)
    store_predictions(ws, table, stored, horizon_days, discount_rate)
    return table, stored


def store_predictions(
    ws: Workspace,
    table: pa.Table,
    stored: StoredModel,
    horizon_days: int,
    discount_rate: float,
) -> int:
    rows = table.num_rows
    extra = {
        "as_of": pa.array(
            [stored.as_of.astimezone(UTC).replace(tzinfo=None)] * rows, pa.timestamp("us")
        ),
        "period": pa.array([stored.period] * rows, pa.string()),
        "horizon_days": pa.array([horizon_days] * rows, pa.int64()),
        "discount_rate": pa.array([discount_rate] * rows, pa.float64()),
        "model_id": pa.array([stored.model_id] * rows, pa.string()),
    }
    full = pa.Table.from_arrays([*table.columns, *extra.values()], schema=STORED_SCHEMA)
    engine = ws.engine
    if not engine.has_table(PREDICTIONS_TABLE):
        engine.backend.create_table(
            PREDICTIONS_TABLE, schema=ibis.Schema.from_pyarrow(STORED_SCHEMA)
        )
    return load_arrow(engine, PREDICTIONS_TABLE, full, mode="replace")


def refresh(
    ws: Workspace,
    as_of: date | None,
    period: str = DEFAULT_PERIOD,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
) -> dict[str, Any]:
    """Fit, store the model, predict and store the predictions (for a schedule)."""
    _check_horizon(horizon_days, discount_rate)
    document = fit(ws, as_of, period)
    table, stored = predict(ws, horizon_days, discount_rate)
    return {
        "as_of": document["as_of"],
        "period": document["period"],
        "model_id": stored.model_id,
        "customers": table.num_rows,
        "horizon_days": horizon_days,
        "discount_rate": discount_rate,
    }


@dataclass(frozen=True)
class Validation:
    calibration_end: date
    end: date
    period: str
    duration: int
    parameters: dict[str, Any]
    groups: list[GroupRow]

    def chart(self) -> str:
        from segmentum.analytics.charts import holdout_chart

        title = (
            f"BG/NBD holdout check: calibration to {self.calibration_end}, "
            f"holdout to {self.end} ({self.duration} {self.period} periods)"
        )
        return holdout_chart(self.groups, title)


def validate(
    ws: Workspace,
    calibration_end: date,
    as_of: date | None = None,
    period: str = DEFAULT_PERIOD,
) -> Validation:
    """Fit on the orders up to ``calibration_end`` and compare predicted with actual purchase
    periods after it, up to ``as_of`` (default now), per calibration frequency group. Nothing
    is stored."""
    from segmentum.analytics.holdout import compare_groups

    period = _period(period)
    timezone = ws.settings.timezone
    cal_instant = resolve_as_of(calibration_end, timezone)
    end_instant = resolve_as_of(as_of, timezone)
    if end_instant <= cal_instant:
        raise ServiceError("the holdout must end after --calibration-end")
    table = compile_btyd_holdout(
        ws.catalog, ws.settings, ws.tables(), cal_instant, end_instant, period
    )
    calibration = table.select(*SUMMARY_COLUMNS)
    parameters, _ = fit_summary(calibration)
    models = _models(parameters)
    data = table.select("frequency", "recency", "T", "frequency_holdout").to_pyarrow()
    duration = int(table.duration_holdout.max().to_pyarrow().as_py() or 0)
    groups = compare_groups(
        models.bgnbd,
        _column(data, "frequency"),
        _column(data, "recency"),
        _column(data, "T"),
        _column(data, "frequency_holdout"),
        float(duration),
    )
    return Validation(
        calibration_end,
        _local_date(end_instant, timezone),
        period,
        duration,
        parameters,
        groups,
    )
