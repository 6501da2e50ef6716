"""The dashboard and the segment overview, with cached counts, and their Plotly figures.

Lifecycle and RFM summaries scan every order, so they are cached per workspace (in
``Workspace.extras``) for ``CACHE_SECONDS``; segment sizes and trends come from the last
membership refresh (``segmentum segments refresh``), never from evaluating every definition
on a page view. ``refresh=True`` recomputes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import ibis
import plotly.graph_objects as go

from segmentum.analytics import charts
from segmentum.service import browse, metrics
from segmentum.service.workspace import Workspace
from segmentum.spec.describe import describe
from segmentum.spec.external import from_external
from segmentum.store import segments as segment_store

CACHE_SECONDS = 600.0
TREND_POINTS = 8
T = TypeVar("T")
_lock = threading.Lock()


def _cached(ws: Workspace, key: str, compute: Callable[[], T], refresh: bool = False) -> T:
    cache: dict[str, tuple[float, Any]] = ws.extras.setdefault("dashboard_cache", {})
    with _lock:
        hit = cache.get(key)
    if hit is not None and not refresh and time.monotonic() - hit[0] < CACHE_SECONDS:
        value: T = hit[1]
        return value
    value = compute()
    with _lock:
        cache[key] = (time.monotonic(), value)
    return value


def clear_cache(ws: Workspace) -> None:
    ws.extras.pop("dashboard_cache", None)


def _refresh_stamp(ws: Workspace) -> str:
    row = ws.store.query("SELECT count(*) AS n, max(recorded_at) AS last FROM membership_refreshes")
    return f"{row[0]['n']}:{row[0]['last']}"


def _stored_sizes(ws: Workspace) -> tuple[dict[str, int], dict[str, list[dict[str, Any]]]]:
    """Current members per segment and each segment's size after its latest refreshes."""
    sizes = {
        row["segment"]: int(row["n"])
        for row in ws.store.query(
            "SELECT segment, count(*) AS n FROM segment_members GROUP BY segment"
        )
    }
    rows = ws.store.query(
        "SELECT segment, effective_at, "
        "sum(CASE change WHEN 'entered' THEN 1 ELSE -1 END) AS delta "
        "FROM membership_log GROUP BY segment, effective_at ORDER BY segment, effective_at"
    )
    trends: dict[str, list[dict[str, Any]]] = {}
    running: dict[str, int] = {}
    for row in rows:
        name = row["segment"]
        running[name] = running.get(name, 0) + int(row["delta"])
        trends.setdefault(name, []).append({"at": row["effective_at"], "size": running[name]})
    return sizes, {name: points[-TREND_POINTS:] for name, points in trends.items()}


def segment_overview(ws: Workspace, refresh: bool = False) -> list[dict[str, Any]]:
    """Every segment: name, version, description, sentence, size at the last refresh (None if
    never refreshed) and its trend (size after each of the last refreshes)."""
    stored = segment_store.list_segments(ws.store)
    stamp = _refresh_stamp(ws)
    sizes, trends = _cached(ws, f"sizes:{stamp}", lambda: _stored_sizes(ws), refresh)
    sentences: dict[str, str] = ws.extras.setdefault("sentence_cache", {})
    rows = []
    for segment in stored:
        key = f"{segment.name}:{segment.version}"
        if key not in sentences:
            sentences[key] = describe(from_external(segment.definition))
        rows.append(
            {
                "name": segment.name,
                "version": segment.version,
                "description": segment.description,
                "sentence": sentences[key],
                "size": sizes.get(segment.name) if trends or sizes else None,
                "trend": [point["size"] for point in trends.get(segment.name, [])],
                "updated_at": segment.updated_at,
            }
        )
    return rows


def _rfm_grid(ws: Workspace) -> list[dict[str, Any]]:
    table, _ = metrics.rfm_table(ws, None, None)
    grid = (
        table.group_by(["r_score", "f_score"])
        .aggregate(customers=table.count(), revenue=table.monetary.sum())
        .order_by([ibis.desc("r_score"), ibis.desc("f_score")])
    )
    rows: list[dict[str, Any]] = grid.to_pyarrow().to_pylist()
    return rows


def _base(ws: Workspace) -> dict[str, Any]:
    customers = ws.table("customers")
    return {
        "customers": int(customers.count().to_pyarrow().as_py()),
        "sendable": browse.sendable_per_channel(ws),
    }


def dashboard(ws: Workspace, refresh: bool = False) -> dict[str, Any]:
    """Base size, sendable per channel, lifecycle distribution, RFM grid, largest segments with
    their trend, recent campaigns."""
    base = _cached(ws, "base", lambda: _base(ws), refresh)
    lifecycle = _cached(ws, "lifecycle", lambda: metrics.lifecycle_counts(ws, None), refresh)
    rfm = _cached(ws, "rfm", lambda: _rfm_grid(ws), refresh)
    overview = segment_overview(ws, refresh)
    largest = sorted(
        (row for row in overview if row["size"] is not None),
        key=lambda row: (-int(row["size"]), row["name"]),
    )[:6]
    return {
        **base,
        "lifecycle": lifecycle,
        "rfm_grid": rfm,
        "largest_segments": largest,
        "recent_campaigns": browse.recent_campaigns(ws),
        "computed_at": datetime.now().astimezone(),
    }


# --- figures -------------------------------------------------------------------------------


def figure_html(figure: go.Figure, div_id: str) -> str:
    """An embeddable figure (plotly.js is served by the app, never from a CDN)."""
    figure.update_layout(margin={"l": 40, "r": 10, "t": 40, "b": 40}, height=320, autosize=True)
    html: str = figure.to_html(
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id,
        config={"responsive": True, "displaylogo": False},
    )
    return html


def dashboard_figures(summary: dict[str, Any]) -> dict[str, str]:
    figures = {
        "lifecycle": figure_html(charts.lifecycle_figure(summary["lifecycle"]), "fig-lifecycle")
    }
    if summary["rfm_grid"]:
        figures["rfm"] = figure_html(charts.rfm_heatmap(summary["rfm_grid"]), "fig-rfm")
    return figures


def uplift_html(rows: list[dict[str, Any]], title: str) -> str:
    return figure_html(charts.uplift_figure(rows, title), "fig-uplift")


def conversion_html(rows: list[dict[str, Any]], title: str) -> str:
    return figure_html(charts.conversion_figure(rows, title), "fig-conversion")


def sizes_html(rows: list[dict[str, Any]]) -> str:
    return figure_html(charts.sizes_figure(rows), "fig-sizes")


def sankey_html(rows: list[dict[str, Any]], title: str, div_id: str) -> str:
    return figure_html(charts.transition_sankey(rows, title), div_id)
