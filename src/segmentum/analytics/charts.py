"""Charts as self-contained HTML (Plotly, with plotly.js inlined: opens offline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from segmentum.analytics.holdout import GroupRow


def holdout_chart(rows: Sequence[GroupRow], title: str) -> str:
    """Grouped bars of actual and predicted mean holdout purchases per frequency group."""
    groups = [row for row in rows if row.frequency != "all"]
    labels = [row.frequency for row in groups]
    figure = go.Figure(
        data=[
            go.Bar(name="actual", x=labels, y=[row.actual for row in groups]),
            go.Bar(name="predicted (BG/NBD)", x=labels, y=[row.predicted for row in groups]),
        ]
    )
    figure.update_layout(
        title=title,
        barmode="group",
        xaxis_title="purchases in the calibration period (repeat periods)",
        yaxis_title="mean purchases in the holdout period",
    )
    html: str = figure.to_html(include_plotlyjs=True, full_html=True)
    return html


# --- measurement: segment and campaign pictures (figures; `segmentum.analytics.html` pages) ----


def lifecycle_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Customers per lifecycle stage (rows: stage, customers)."""
    figure = go.Figure(
        go.Bar(x=[row["stage"] for row in rows], y=[row["customers"] for row in rows])
    )
    figure.update_layout(title="Lifecycle stages", xaxis_title="stage", yaxis_title="customers")
    return figure


def rfm_heatmap(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """The R×F grid: colour = customers; the text shows customers and revenue."""
    r_scores = sorted({int(row["r_score"]) for row in rows})
    f_scores = sorted({int(row["f_score"]) for row in rows})
    cells = {(int(row["r_score"]), int(row["f_score"])): row for row in rows}
    z: list[list[int | None]] = []
    text: list[list[str]] = []
    for f in f_scores:
        z.append([int(cells[(r, f)]["customers"]) if (r, f) in cells else None for r in r_scores])
        text.append(
            [
                f"{int(cells[(r, f)]['customers'])}<br>{float(cells[(r, f)]['revenue'] or 0):,.0f}"
                if (r, f) in cells
                else ""
                for r in r_scores
            ]
        )
    figure = go.Figure(
        go.Heatmap(
            x=[str(r) for r in r_scores],
            y=[str(f) for f in f_scores],
            z=z,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": "customers"},
        )
    )
    figure.update_layout(
        title="RFM grid: customers and revenue", xaxis_title="R score", yaxis_title="F score"
    )
    return figure


def sizes_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Segment sizes over time (rows: segment, date, size), one line per segment."""
    figure = go.Figure()
    for segment in sorted({str(row["segment"]) for row in rows}):
        points = [row for row in rows if row["segment"] == segment]
        figure.add_trace(
            go.Scatter(
                x=[row["date"] for row in points],
                y=[row["size"] for row in points],
                mode="lines+markers",
                name=segment,
            )
        )
    figure.update_layout(title="Segment sizes over time", xaxis_title="date",
                         yaxis_title="members")  # fmt: skip
    return figure


def transition_sankey(rows: Sequence[Mapping[str, Any]], title: str) -> go.Figure:
    """Flows from each state at the first date to each state at the second (rows: from, to,
    customers)."""
    sources = sorted({str(row["from"]) for row in rows})
    targets = sorted({str(row["to"]) for row in rows})
    labels = [f"{name} (before)" for name in sources] + [f"{name} (after)" for name in targets]
    figure = go.Figure(
        go.Sankey(
            node={"label": labels, "pad": 12},
            link={
                "source": [sources.index(str(row["from"])) for row in rows],
                "target": [len(sources) + targets.index(str(row["to"])) for row in rows],
                "value": [int(row["customers"]) for row in rows],
            },
        )
    )
    figure.update_layout(title=title)
    return figure


def uplift_figure(rows: Sequence[Mapping[str, Any]], title: str) -> go.Figure:
    """Conversion uplift in percentage points with its 95% interval, per report row that has
    a holdout to compare with (rows of `analytics.report`)."""
    shown = [row for row in rows if row.get("uplift_pp") is not None]
    labels = [f"{row['segment']} / {row['arm']}" for row in shown]
    values = [float(row["uplift_pp"]) for row in shown]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=values,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [float(row["uplift_pp_high"]) - float(row["uplift_pp"]) for row in shown],
                "arrayminus": [
                    float(row["uplift_pp"]) - float(row["uplift_pp_low"]) for row in shown
                ],
            },
            name="uplift (pp)",
        )
    )
    figure.update_layout(title=title, xaxis_title="segment / arm",
                         yaxis_title="conversion uplift over holdout (pp, 95% CI)")  # fmt: skip
    return figure


def conversion_figure(rows: Sequence[Mapping[str, Any]], title: str) -> go.Figure:
    """Conversion rate of the treated and of the holdout, per report row."""
    labels = [f"{row['segment']} / {row['arm']}" for row in rows]

    def pct(value: Any) -> float | None:
        return None if value is None else 100 * float(value)

    figure = go.Figure(
        data=[
            go.Bar(name="treated", x=labels, y=[pct(row["conversion_rate"]) for row in rows]),
            go.Bar(
                name="holdout", x=labels, y=[pct(row["holdout_conversion_rate"]) for row in rows]
            ),
        ]
    )
    figure.update_layout(title=title, barmode="group", xaxis_title="segment / arm",
                         yaxis_title="conversion rate (%)")  # fmt: skip
    return figure
