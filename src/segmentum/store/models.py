"""Fitted BTYD models in the app store: parameters (JSON) with their as_of and period.

Every fit is kept (append-only), so predictions and reports can name the model they used;
the newest fit is the current one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from segmentum.store.database import AppStore


@dataclass(frozen=True)
class StoredModel:
    model_id: str
    as_of: datetime  # aware UTC
    as_of_date: date
    period: str
    parameters: dict[str, Any]
    customers: int
    fitted_at: datetime


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def _aware(value: Any) -> datetime:
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def save_model(
    store: AppStore,
    as_of: datetime,
    as_of_date: date,
    period: str,
    parameters: dict[str, Any],
    customers: int,
    fitted_at: datetime,
) -> StoredModel:
    model_id = uuid.uuid4().hex
    store.execute(
        "INSERT INTO clv_models (model_id, as_of, as_of_date, period, parameters, customers, "
        "fitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            model_id,
            _naive(as_of),
            as_of_date,
            period,
            json.dumps(parameters),
            customers,
            _naive(fitted_at),
        ),
    )
    return StoredModel(
        model_id, _aware(as_of), as_of_date, period, parameters, customers, _aware(fitted_at)
    )


def latest_model(store: AppStore) -> StoredModel | None:
    rows = store.query(
        "SELECT model_id, as_of, as_of_date, period, parameters, customers, fitted_at "
        "FROM clv_models ORDER BY fitted_at DESC, model_id LIMIT 1"
    )
    if not rows:
        return None
    row = rows[0]
    day = row["as_of_date"]
    return StoredModel(
        model_id=str(row["model_id"]),
        as_of=_aware(row["as_of"]),
        as_of_date=day if isinstance(day, date) else date.fromisoformat(str(day)),
        period=str(row["period"]),
        parameters=json.loads(row["parameters"]),
        customers=int(row["customers"]),
        fitted_at=_aware(row["fitted_at"]),
    )
