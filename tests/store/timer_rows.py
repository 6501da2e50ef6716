"""Timer rows for the timer-index tests: three instants and an Arrow table of timers."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

T1 = datetime(2026, 5, 1, 22, 0)
T2 = datetime(2026, 5, 2, 22, 0)
T3 = datetime(2026, 6, 1, 22, 0)


def timer_table(rows: dict[str, datetime]) -> pa.Table:
    """(customer_id, next_flip_at) as the timer index stores them."""
    return pa.table(
        {
            "customer_id": pa.array(list(rows), pa.string()),
            "next_flip_at": pa.array(list(rows.values()), pa.timestamp("us")),
        }
    )
