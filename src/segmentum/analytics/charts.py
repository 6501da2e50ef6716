"""Charts as self-contained HTML (Plotly, with plotly.js inlined: opens offline)."""

from __future__ import annotations

from collections.abc import Sequence

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
