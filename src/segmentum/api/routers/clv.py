"""Customer lifetime value: the BTYD summary, fitting BG/NBD + Gamma-Gamma, predictions, the
scheduled refresh and the holdout check (`segmentum clv ...`). Fitting and storing predictions
need the marketer role and are audited."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from segmentum.api.access import Marketer, Viewer
from segmentum.api.calls import Limit, Offset, Page, call, page, record
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import clv as clv_service
from segmentum.service import defaults

router = APIRouter(prefix="/api/clv", tags=["clv"])
AsOf = Annotated[date | None, Query(description="the end of this day (default: now)")]
Period = Annotated[Literal["D", "W"], Query(description="the models' time unit: days or weeks")]
Horizon = Annotated[int, Query(ge=0, le=3650, description="prediction horizon in days")]
Discount = Annotated[float, Query(gt=-1, le=10, description="annual rate (0.1 = 10 % a year)")]
ERRORS = error_responses(400, 401, 403, 422)


class ValidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    calibration_end: date = Field(examples=["2025-06-30"])
    as_of: date | None = Field(None, description="the holdout's last day (default: today)")
    period: Literal["D", "W"] = "D"


@router.get("/summary", response_model=Page[dict[str, Any]], responses=ERRORS)
async def summary(
    server: ServerDep,
    who: Viewer,
    as_of: AsOf = None,
    period: Period = "D",
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Per customer: frequency (repeat periods), recency and T (in periods) and monetary."""

    def read(ws: Any) -> tuple[list[dict[str, Any]], int]:
        table, _ = clv_service.summary_table(ws, as_of, period)
        total = int(table.count().to_pyarrow().as_py())
        ordered = table.order_by("customer_id").limit(limit, offset=offset)
        return ordered.to_pyarrow().to_pylist(), total

    rows, total = await call(server, read)
    return page(rows, total, limit, offset)


@router.post("/fit", responses=ERRORS)
async def fit(
    server: ServerDep, who: Marketer, as_of: AsOf = None, period: Period = "D"
) -> dict[str, Any]:
    """Fit BG/NBD and Gamma-Gamma by maximum likelihood and store them: the parameters with
    standard errors and log-likelihoods."""

    def run(ws: Any) -> dict[str, Any]:
        document = clv_service.fit(ws, as_of, period)
        record(ws, who, "fit", "clv_model", document["as_of"], {"period": period})
        return document

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result


@router.post("/predict", response_model=Page[dict[str, Any]], responses=ERRORS)
async def predict(
    server: ServerDep,
    who: Marketer,
    horizon: Horizon = defaults.DEFAULT_HORIZON_DAYS,
    discount_rate: Discount = defaults.DEFAULT_DISCOUNT_RATE,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Per customer p_alive, expected purchases, expected order value and CLV from the latest
    fit; stored for predictive segment conditions (replacing the previous ones). One page of
    them, by customer id."""

    def run(ws: Any) -> tuple[list[dict[str, Any]], int]:
        table, stored = clv_service.predict(ws, horizon, discount_rate)
        record(ws, who, "predict", "clv_model", str(stored.model_id), {"horizon": horizon})
        ordered = table.sort_by("customer_id")
        return ordered.slice(offset, limit).to_pylist(), table.num_rows

    rows, total = await call(server, run)
    return page(rows, total, limit, offset)


@router.post("/refresh", responses=ERRORS)
async def refresh(
    server: ServerDep,
    who: Marketer,
    as_of: AsOf = None,
    period: Period = "D",
    horizon: Horizon = defaults.DEFAULT_HORIZON_DAYS,
    discount_rate: Discount = defaults.DEFAULT_DISCOUNT_RATE,
) -> dict[str, Any]:
    """Fit, store the model, predict and store the predictions (what a schedule runs)."""

    def run(ws: Any) -> dict[str, Any]:
        result = clv_service.refresh(ws, as_of, period, horizon, discount_rate)
        record(ws, who, "refresh", "clv_model", str(result["model_id"]))
        return result

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result


@router.post("/validate", responses=ERRORS)
async def validate(body: ValidateIn, server: ServerDep, who: Viewer) -> dict[str, Any]:
    """Fit on the orders up to ``calibration_end``, then compare predicted with actual purchase
    periods up to ``as_of`` per calibration frequency group. Nothing is stored."""

    def run(ws: Any) -> dict[str, Any]:
        checked = clv_service.validate(ws, body.calibration_end, body.as_of, body.period)
        return {
            "calibration_end": checked.calibration_end,
            "end": checked.end,
            "period": checked.period,
            "duration": checked.duration,
            "parameters": checked.parameters,
            "groups": [group.as_dict() for group in checked.groups],
        }

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result
