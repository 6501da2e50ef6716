"""Self-contained HTML report pages: tables and Plotly figures, with the plotly.js that the
Python package ships inlined once (no CDN: the page opens offline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from html import escape
from typing import Any

import plotly.graph_objects as go

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0 2rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
th { background: #f3f3f3; }
.note { color: #555; max-width: 60rem; }
"""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def table_html(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Page:
    """A page assembled from sections; ``render`` inlines plotly.js before the first figure."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []
        self._plotly_included = False

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{escape(text)}</h2>")

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="note">{escape(text)}</p>')

    def table(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        self.parts.append(table_html(rows, columns))

    def figure(self, figure: go.Figure) -> None:
        include = not self._plotly_included
        self._plotly_included = True
        html: str = figure.to_html(include_plotlyjs=include, full_html=False)
        self.parts.append(f"<div>{html}</div>")

    def render(self) -> str:
        return (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(self.title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>{escape(self.title)}</h1>{''.join(self.parts)}</body></html>\n"
        )
