"""Calibration/holdout check: the model fitted on the calibration period predicts each
customer's purchases in the holdout period; compared with the actual ones per frequency group."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from segmentum.analytics.fit import BgNbdParams
from segmentum.analytics.predict import expected_purchases

#: Customers with this many calibration repeats or more share the last group ("7+").
TOP_GROUP = 7


@dataclass(frozen=True)
class GroupRow:
    frequency: str
    customers: int
    actual: float
    predicted: float

    def as_dict(self) -> dict[str, object]:
        return {
            "frequency": self.frequency,
            "customers": self.customers,
            "actual": round(self.actual, 4),
            "predicted": round(self.predicted, 4),
        }


def compare_groups(
    params: BgNbdParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    holdout: npt.ArrayLike,
    duration: float,
    top_group: int = TOP_GROUP,
) -> list[GroupRow]:
    """Mean actual and predicted holdout purchases per calibration frequency (0, 1, …,
    ``top_group``+), plus an ``all`` row."""
    x = np.asarray(frequency, dtype=np.float64)
    actual = np.asarray(holdout, dtype=np.float64)
    predicted = expected_purchases(params, duration, x, recency, age)
    groups = np.minimum(x, top_group).astype(np.int64)
    rows: list[GroupRow] = []
    for group in range(top_group + 1):
        chosen = groups == group
        count = int(chosen.sum())
        if count == 0:
            continue
        label = f"{group}+" if group == top_group else str(group)
        rows.append(
            GroupRow(
                label,
                count,
                float(actual[chosen].mean()),
                float(predicted[chosen].mean()),
            )
        )
    if x.size:
        rows.append(GroupRow("all", int(x.size), float(actual.mean()), float(predicted.mean())))
    return rows
