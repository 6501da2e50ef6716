"""Last-touch attribution: each purchase goes to the most recent delivered campaign message
before it whose campaign window (the goal's ``within_days``, default 7) still covers it.

Descriptive only: it says which message a buyer saw last, not what the message caused (that is
the holdout comparison in :mod:`segmentum.analytics.report`). A purchase is an order whose
status is not ``cancelled``; the message instant is the ledger's ``sent_at`` of a row that
ended ``delivered``. Ties (two messages sent at the same instant) go to the greater campaign id.

The SQL runs in the app store when it shares the data engine's database (the default), over
``send_ledger`` and ``orders``: set-based, one statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from segmentum.catalog.tables import CANCELLED_STATUS

DEFAULT_WINDOW_DAYS = 7


def windows_sql(windows: Mapping[str, int]) -> tuple[str, list[Any]]:
    """A ``windows(campaign_id, days)`` relation as bound VALUES (a row per campaign)."""
    items = sorted(windows.items()) or [("", DEFAULT_WINDOW_DAYS)]
    values = ", ".join("(CAST(? AS VARCHAR), CAST(? AS INTEGER))" for _ in items)
    params: list[Any] = [value for item in items for value in item]
    return f"SELECT * FROM (VALUES {values}) AS w (campaign_id, days)", params


def attributed_sql(campaign_id: str, windows: Mapping[str, int]) -> tuple[str, list[Any]]:
    """Rows (occurrence, customer_id, order_id, amount) of the orders attributed to
    ``campaign_id``'s messages by last touch across every campaign."""
    relation, params = windows_sql(windows)
    sql = f"""
        WITH windows AS ({relation}),
        buyers AS (
            SELECT DISTINCT customer_id FROM send_ledger
            WHERE campaign_id = ? AND source = 'campaign' AND status = 'delivered'
        ),
        touches AS (
            SELECT l.campaign_id, l.occurrence, l.customer_id, l.sent_at, w.days
            FROM send_ledger l
            JOIN windows w ON w.campaign_id = l.campaign_id
            WHERE l.source = 'campaign' AND l.status = 'delivered' AND l.sent_at IS NOT NULL
              AND l.customer_id IN (SELECT customer_id FROM buyers)
        ),
        matches AS (
            SELECT o.order_id, o.customer_id, o.amount, t.campaign_id, t.occurrence,
                row_number() OVER (PARTITION BY o.order_id
                                   ORDER BY t.sent_at DESC, t.campaign_id DESC) AS touch
            FROM orders o
            JOIN touches t ON t.customer_id = o.customer_id
             AND o.ordered_at >= t.sent_at
             AND o.ordered_at < t.sent_at + t.days * INTERVAL '1 day'
            WHERE o.status IS NULL OR o.status <> ?
        )
        SELECT occurrence, customer_id, order_id, amount FROM matches
        WHERE touch = 1 AND campaign_id = ?
    """
    return sql, [*params, campaign_id, CANCELLED_STATUS, campaign_id]


def attributed_orders(
    query: Any, campaign_id: str, windows: Mapping[str, int]
) -> Sequence[dict[str, Any]]:
    """The attributed orders themselves (``query`` is ``AppStore.query``)."""
    sql, params = attributed_sql(campaign_id, windows)
    rows: Sequence[dict[str, Any]] = query(sql + " ORDER BY order_id", params)
    return rows
