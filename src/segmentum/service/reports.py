"""Report use cases: the campaign report (per segment × arm, uplift over the holdout), saving a
campaign's responders as a segment, segment analytics over time, their HTML pages, and the
simulated responses the demo uses.

The campaign report runs one SQL statement in the app store over the audience snapshot, the
ledger, events and orders, so it needs the app store to share the data engine's database (the
default: one DuckDB file, or one PostgreSQL database).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmentum.analytics import charts
from segmentum.analytics.attribution import DEFAULT_WINDOW_DAYS
from segmentum.analytics.html import Page
from segmentum.analytics.report import (
    ALL,
    COLUMNS,
    GENERIC,
    CampaignReport,
    Goal,
    campaign_report,
)
from segmentum.analytics.segment_analytics import (
    cohort_retention,
    segment_sizes,
    transition_matrix,
)
from segmentum.campaigns.model import Campaign
from segmentum.catalog.tables import CANCELLED_STATUS
from segmentum.service import metrics
from segmentum.service.campaigns import get_campaign
from segmentum.service.clock import end_of_day, now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.imports import ImportOptions, import_file
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.tracking import import_events, sync_message_events
from segmentum.service.workspace import Workspace
from segmentum.store import campaigns as campaign_store
from segmentum.store import segments as segment_store
from segmentum.store.campaigns import naive

#: The columns `campaigns report` shows as a table (CSV and JSON carry every column).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "segment", "arm", "eligible", "held_out", "treated", "sent", "delivered", "failed",
    "skipped", "clicked", "unsubscribed", "converted", "revenue", "conversion_rate",
    "revenue_per_recipient", "cost", "roi", "uplift_pp", "uplift_pp_low", "uplift_pp_high",
    "p_value", "rpr_difference", "welch_p_value",
)  # fmt: skip


# --- the campaign report --------------------------------------------------------------------


def _goal(campaign: Campaign) -> Goal:
    goal = campaign.goal
    if goal is None:
        return Goal(days=DEFAULT_WINDOW_DAYS)
    return Goal(days=goal.within_days, category=goal.category, product_id=goal.product_id)


def attribution_windows(ws: Workspace) -> dict[str, int]:
    """Each campaign's attribution window in days (its goal's ``within_days``, default 7)."""
    windows: dict[str, int] = {}
    for stored in campaign_store.list_campaigns(ws.store):
        campaign = Campaign.model_validate_json(stored.definition)
        windows[stored.campaign_id] = _goal(campaign).days
    return windows


def _require_shared(ws: Workspace) -> None:
    if not ws.store_shares_engine:
        raise ServiceError(
            "campaign reports join the app store with orders and events: they need the app "
            "store in the data engine's database (the default; drop --app-db)"
        )


def report_campaign(ws: Workspace, campaign_id: str) -> CampaignReport:
    """Per segment × arm, per segment and for the campaign: see docs/measurement.md."""
    _require_shared(ws)
    stored, campaign = get_campaign(ws, campaign_id)
    variants: list[str] = []
    for target in campaign.segments:
        for variant in target.resolved_variants(campaign.default_template):
            if variant.name not in variants:
                variants.append(variant.name)
    return campaign_report(
        ws.store.query,
        stored.campaign_id,
        campaign.channel,
        _goal(campaign),
        attribution_windows(ws),
        [target.segment for target in campaign.segments],
        variants,
    )


def report_document(report: CampaignReport) -> dict[str, Any]:
    return {
        "campaign": report.campaign_id,
        "channel": report.channel,
        "goal": {
            "within_days": report.goal.days,
            "category": report.goal.category,
            "product_id": report.goal.product_id,
        },
        "rows": report.rows,
    }


def campaign_html(report: CampaignReport) -> str:
    page = Page(f"Campaign {report.campaign_id}: results by segment")
    page.note(
        f"Channel {report.channel}. Conversion: a purchase within {report.goal.days} days of "
        "the segment's send start. Uplift is intent-to-treat (treated = eligible minus "
        "holdout, skipped and failed included) against the segment's holdout; 95% Wald "
        "interval, pooled two-proportion z-test; revenue per recipient with Welch's t-test. "
        "Attributed revenue is last-touch and descriptive only."
    )
    rows = report.rows
    page.figure(charts.uplift_figure(rows, "Conversion uplift over the holdout"))
    page.figure(charts.conversion_figure(rows, "Conversion: treated vs holdout"))
    page.heading("Results")
    page.table(rows, SUMMARY_COLUMNS)
    page.heading("Every column")
    page.table(rows, list(rows[0]) if rows else [])
    return page.render()


# --- responders ------------------------------------------------------------------------------


def responders_definition(campaign_id: str, conversion_days: int) -> dict[str, Any]:
    """``message(clicked|replied|converted, campaign = X)``, any of the three."""
    return {
        "any": [
            {"message": {"reaction": "clicked", "campaign": campaign_id}},
            {"message": {"reaction": "replied", "campaign": campaign_id}},
            {
                "message": {
                    "reaction": "converted",
                    "campaign": campaign_id,
                    "conversion_days": conversion_days,
                }
            },
        ]
    }


def save_responders(ws: Workspace, campaign_id: str, name: str) -> segment_store.StoredSegment:
    """Save "responded to campaign X" (clicked, replied or converted) as a segment; the
    campaign's ledger outcomes are first synced to message events so ``converted`` (a
    delivered message followed by an order) sees them."""
    stored, campaign = get_campaign(ws, campaign_id)
    sync_message_events(ws, stored.campaign_id)
    return create_segment(
        ws,
        name,
        DefinitionSource(data=responders_definition(stored.campaign_id, _goal(campaign).days)),
        f"Responded to campaign {stored.campaign_id} (clicked, replied or converted)",
    )


# --- segment analytics -----------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentReport:
    date_from: date
    date_to: date
    sizes: list[dict[str, Any]]
    lifecycle: list[dict[str, Any]]
    lifecycle_transitions: list[dict[str, Any]]
    rfm_grid: list[dict[str, Any]]
    rfm_transitions: list[dict[str, Any]]
    cohorts: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _today(ws: Workspace) -> date:
    from zoneinfo import ZoneInfo

    return now_utc().astimezone(ZoneInfo(ws.settings.timezone)).date()


def report_segments(
    ws: Workspace, date_from: date | None = None, date_to: date | None = None
) -> SegmentReport:
    """Sizes per day (end of day, workspace zone) from ``date_from`` to ``date_to`` (default:
    the 30 days up to today), lifecycle and RFM at ``date_to`` and their transitions from
    ``date_from``, cohort retention up to ``date_to``."""
    date_to = date_to or _today(ws)
    date_from = date_from or date_to - timedelta(days=30)
    if date_from > date_to:
        raise ServiceError("--from must not be after --to")
    zone = ws.settings.timezone
    days = [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]
    boundaries = {end_of_day(day, zone).replace(tzinfo=None): day for day in days}
    sizes = [
        {"segment": row["segment"], "date": boundaries[row["at"]], "size": row["size"]}
        for row in segment_sizes(ws.store.query, list(boundaries))
    ]
    life_from, _ = metrics.lifecycle_table(ws, date_from)
    life_to, instant_to = metrics.lifecycle_table(ws, date_to)
    rfm_from, _ = metrics.rfm_table(ws, date_from, None)
    rfm_to, _ = metrics.rfm_table(ws, date_to, None)
    grid = (
        rfm_to.group_by(["r_score", "f_score"])
        .aggregate(customers=rfm_to.count(), revenue=rfm_to.monetary.sum())
        .order_by(["r_score", "f_score"])
    )
    tables = ws.tables()
    cohorts = cohort_retention(tables["customers"], tables["orders"], instant_to, CANCELLED_STATUS)
    return SegmentReport(
        date_from,
        date_to,
        sizes,
        metrics.lifecycle_counts(ws, date_to),
        _rows(transition_matrix(life_from, life_to, "stage")),
        _rows(grid),
        _rows(transition_matrix(rfm_from, rfm_to, "rfm_group")),
        _rows(cohorts),
    )


def _rows(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def segments_html(report: SegmentReport) -> str:
    page = Page(f"Segments from {report.date_from} to {report.date_to}")
    page.figure(charts.lifecycle_figure(report.lifecycle))
    page.figure(charts.rfm_heatmap(report.rfm_grid))
    page.figure(charts.sizes_figure(report.sizes))
    page.figure(charts.transition_sankey(report.lifecycle_transitions,
                                         "Lifecycle stage: where customers moved"))  # fmt: skip
    page.figure(charts.transition_sankey(report.rfm_transitions,
                                         "RFM group: where customers moved"))  # fmt: skip
    page.heading("Lifecycle transitions")
    page.table(report.lifecycle_transitions, ("from", "to", "customers"))
    page.heading("RFM transitions")
    page.table(report.rfm_transitions, ("from", "to", "customers"))
    page.heading("Cohort retention by signup month")
    page.table(report.cohorts, ("cohort", "month", "cohort_size", "active", "retention"))
    return page.render()


def write_html(path: Path, html: str) -> None:
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as error:
        raise ServiceError(f"cannot write {path}: {error}") from error


# --- simulated responses (the demo) ----------------------------------------------------------

#: Per segment position in the campaign's priority order: purchase probability of a holdout
#: (or untreated) customer, the extra probability a delivered segmented message adds, click
#: probability of a delivered message, and the mean order amount. The generic share gets half
#: the segment's lift: segmenting wins.
SIM_BASE = (0.06, 0.05, 0.04, 0.035, 0.03)
SIM_LIFT = (0.10, 0.05, 0.02, 0.0, 0.0)
SIM_CLICK = (0.25, 0.15, 0.08, 0.04, 0.03)
SIM_AMOUNT = (90.0, 60.0, 45.0, 35.0, 30.0)
SIM_DELIVERED = 0.95


def _pick(values: tuple[float, ...], index: int) -> float:
    return values[min(index, len(values) - 1)]


def simulate_responses(
    ws: Workspace, campaign_id: str, seed: int = 42, as_of: datetime | None = None
) -> dict[str, int]:
    """Deterministic simulated outcomes of a sent campaign, for the demo: delivery receipts
    (95% of sent messages), clicks and purchases whose rates differ by segment (and the
    holdout's, lower), imported as events and orders through the normal import path.

    Nothing is simulated after ``as_of`` (default: now): purchases fall in the goal window cut
    at ``as_of``, clicks within two hours of the message or by ``as_of``, and a message sent
    later gets no receipt, click or purchase. A segment condition evaluated then
    (``message(converted, campaign = ...)``) sees every simulated order the report counts.
    A customer who buys after a sent message had it delivered (the missing receipt is what is
    unreliable, not the message), so each treated buyer with a sent message is a
    ``message(converted)`` customer too.

    The same seed on the same ledger and ``as_of`` gives the same outcomes; a second run
    re-imports the same ids (unchanged)."""
    stored, campaign = get_campaign(ws, campaign_id)
    rows = campaign_store.query_arrow(
        ws.store,
        "SELECT a.occurrence, a.customer_id, a.segment, a.generic, a.held_out, a.eligible, "
        "l.message_key, l.status, l.attempts, l.next_attempt_at, l.provider_message_id, "
        "l.sent_at, s.start_at FROM campaign_audience a JOIN send_ledger l "
        "ON l.campaign_id = a.campaign_id AND l.occurrence = a.occurrence "
        "AND l.customer_id = a.customer_id AND l.source = 'campaign' "
        "JOIN (SELECT occurrence, segment, coalesce(min(sent_at), min(due_at)) AS start_at "
        "FROM send_ledger WHERE campaign_id = ? AND source = 'campaign' "
        "GROUP BY occurrence, segment) s ON s.occurrence = a.occurrence AND s.segment = a.segment "
        "WHERE a.campaign_id = ? ORDER BY a.occurrence, a.customer_id",
        [stored.campaign_id, stored.campaign_id],
    )
    count = rows.num_rows
    if count == 0:
        return {"delivered": 0, "clicks": 0, "orders": 0}
    limit = np.datetime64(naive(as_of or now_utc()), "us")
    rng = np.random.default_rng(seed)
    draws = rng.random((5, count))
    order = {target.segment: i for i, target in enumerate(campaign.segments)}
    position = np.array([order.get(s, len(order)) for s in rows.column("segment").to_pylist()])
    status = np.array(rows.column("status").to_pylist(), dtype=object)
    start = np.array(rows.column("start_at").cast(pa.timestamp("us")).to_numpy(), "datetime64[us]")
    sent = rows.column("sent_at").cast(pa.timestamp("us")).fill_null(rows.column("start_at"))
    sent_at = np.array(sent.to_numpy(), "datetime64[us]")
    went_out = (status == "sent") & (sent_at <= limit)
    received = (status == "delivered") | (went_out & (draws[0] < SIM_DELIVERED))
    generic = np.array(rows.column("generic").to_pylist(), dtype=bool)
    base = np.array([_pick(SIM_BASE, p) for p in position])
    lift = np.array([_pick(SIM_LIFT, p) for p in position]) * np.where(generic, 0.5, 1.0)
    # the goal window from the later of the segment's start and the customer's message, cut
    # at as_of: a response is never later than the moment the demo stands at
    begin = np.maximum(start, sent_at)
    window = int(_goal(campaign).days * 86_400_000_000 * 0.999)
    room = np.clip((limit - begin).astype("int64"), 0, window)
    buys = (draws[1] < base + np.where(received, lift, 0.0)) & (room > 0)
    delivered = received | (went_out & buys)
    newly = delivered & (status == "sent")
    _record_deliveries(ws, rows.filter(pa.array(newly)))
    bought_at = begin + (draws[3] * room).astype("int64").astype("timedelta64[us]")
    amounts = np.round(np.array([_pick(SIM_AMOUNT, p) for p in position]) * (0.5 + draws[4]), 2)
    click_room = np.clip((limit - sent_at).astype("int64"), 0, 2 * 3_600_000_000)
    clicks = delivered & (draws[2] < np.array([_pick(SIM_CLICK, p) for p in position]))
    clicks &= click_room > 0
    clicked_at = sent_at + (draws[3] * click_room).astype("int64").astype("timedelta64[us]")
    ids = [
        f"sim-{stored.campaign_id}-{occurrence}-{customer}"
        for occurrence, customer in zip(
            rows.column("occurrence").to_pylist(), rows.column("customer_id").to_pylist(),
            strict=True,
        )
    ]  # fmt: skip
    buyers = np.flatnonzero(buys)
    orders = _import_orders(ws, campaign, ids, rows, buyers, bought_at, amounts)
    clickers = np.flatnonzero(clicks)
    if len(clickers):
        customers = rows.column("customer_id").take(pa.array(clickers))
        import_events(
            ws,
            pa.table(
                {
                    "event_id": pa.array([f"{ids[i]}-click" for i in clickers], pa.string()),
                    "customer_id": customers,
                    "type": pa.array(["message_clicked"] * len(clickers), pa.string()),
                    "occurred_at": _iso(clicked_at[clickers]),
                    "campaign_id": pa.array([stored.campaign_id] * len(clickers), pa.string()),
                    "channel": pa.array([campaign.channel] * len(clickers), pa.string()),
                }
            ),
        )
    sync_message_events(ws, stored.campaign_id)
    return {"delivered": int(newly.sum()), "clicks": len(clickers), "orders": orders}


def _iso(values: np.ndarray[Any, Any]) -> pa.Array:
    stamps = pa.array(values.astype("datetime64[us]"), pa.timestamp("us"))
    return pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%SZ")


def _record_deliveries(ws: Workspace, rows: pa.Table) -> None:
    """Simulated delivery receipts: sent → delivered, set-based."""
    if rows.num_rows == 0:
        return
    now = now_utc().replace(tzinfo=None)
    results = pa.table(
        {
            "message_key": rows.column("message_key"),
            "status": pa.array(["delivered"] * rows.num_rows, pa.string()),
            "attempts": rows.column("attempts").cast(pa.int32()),
            "next_attempt_at": rows.column("next_attempt_at").cast(pa.timestamp("us")),
            "provider_message_id": rows.column("provider_message_id").cast(pa.string()),
            "error": pa.nulls(rows.num_rows, pa.string()),
            "sent_at": rows.column("sent_at").cast(pa.timestamp("us")),
            "updated_at": pa.array([now] * rows.num_rows, pa.timestamp("us")),
        }
    )
    campaign_store.record_results(ws.store, results)


def _goal_product(ws: Workspace, campaign: Campaign) -> str | None:
    goal = campaign.goal
    if goal is None or (goal.category is None and goal.product_id is None):
        return None
    if goal.product_id is not None:
        return goal.product_id
    products = ws.tables()["products"]
    found = products.filter(products.category == goal.category).select("product_id")
    ids = found.order_by("product_id").limit(1).to_pyarrow().column(0).to_pylist()
    return str(ids[0]) if ids else None


def _import_orders(
    ws: Workspace,
    campaign: Campaign,
    ids: list[str],
    rows: pa.Table,
    buyers: np.ndarray[Any, Any],
    bought_at: np.ndarray[Any, Any],
    amounts: np.ndarray[Any, Any],
) -> int:
    if len(buyers) == 0:
        return 0
    order_ids = pa.array([ids[i] for i in buyers], pa.string())
    prices = pa.array([f"{amounts[i]:.2f}" for i in buyers], pa.string())
    orders = pa.table(
        {
            "order_id": order_ids,
            "customer_id": rows.column("customer_id").take(pa.array(buyers)),
            "ordered_at": _iso(bought_at[buyers]),
            "amount": prices,
            "status": pa.array(["completed"] * len(buyers), pa.string()),
            "store": pa.array(["simulated"] * len(buyers), pa.string()),
        }
    )
    product = _goal_product(ws, campaign)
    with tempfile.TemporaryDirectory(prefix="segmentum-sim-") as directory:
        folder = Path(directory)
        pq.write_table(orders, folder / "orders.parquet")
        options = ImportOptions(file_format="parquet", rejects_path=folder / "orders.rej.csv")
        import_file(ws, "orders", folder / "orders.parquet", options)
        if product is not None:
            items = pa.table(
                {
                    "order_id": order_ids,
                    "product_id": pa.array([product] * len(buyers), pa.string()),
                    "quantity": pa.array(["1"] * len(buyers), pa.string()),
                    "unit_price": prices,
                }
            )
            pq.write_table(items, folder / "items.parquet")
            options = ImportOptions(file_format="parquet", rejects_path=folder / "items.rej.csv")
            import_file(ws, "order_items", folder / "items.parquet", options)
    return len(buyers)


__all__ = [
    "ALL",
    "COLUMNS",
    "GENERIC",
    "SUMMARY_COLUMNS",
    "CampaignReport",
    "SegmentReport",
    "campaign_html",
    "report_campaign",
    "report_document",
    "report_segments",
    "save_responders",
    "segments_html",
    "simulate_responses",
    "write_html",
]
