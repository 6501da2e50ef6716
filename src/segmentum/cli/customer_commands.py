"""`segmentum customers show ID` (profile and timeline) and `segmentum stats` (table sizes).

The use cases are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from segmentum.cli.context import workspace
from segmentum.cli.output import OutputFormat, _cell, _plain, emit
from segmentum.service.defaults import DEFAULT_TIMELINE_LIMIT

app = typer.Typer(help="Look at customers: profile, subscriptions and timeline.")

FormatOption = typer.Option(OutputFormat.table, "--format", "-f", help="table, csv or json")
ShowFormatOption = typer.Option(
    OutputFormat.table,
    "--format",
    "-f",
    help="table (profile, subscriptions, timeline), json (one object) or csv (timeline).",
)
TIMELINE_COLUMNS = ("at", "kind", "id", "details", "amount")


def _details(entry: dict[str, Any]) -> tuple[str, str, str]:
    """(id, details, amount) of one timeline entry, for tables and CSV."""
    kind = entry["kind"]
    if kind == "order":
        items = ", ".join(
            f"{item['quantity']}× {item.get('name') or item['product_id']}"
            for item in entry["items"]
        )
        details = f"{entry['status'] or ''} {entry['store'] or ''}: {items}".strip()
        return entry["order_id"], details, _cell(entry["amount"])
    if kind == "return":
        details = f"{entry['order_id']} {entry['product_id']} ×{entry['quantity']}"
        if entry["reason"]:
            details += f" ({entry['reason']})"
        return entry["return_id"], details, _cell(entry["amount"])
    props = " ".join(f"{k}={_cell(v)}" for k, v in entry["properties"].items() if k != "items")
    return entry["event_id"], f"{entry['type']} {props}".strip(), ""


def _timeline_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for entry in document["timeline"]:
        entry_id, details, amount = _details(entry)
        rows.append(
            {
                "at": entry["at"],
                "kind": entry["kind"],
                "id": entry_id,
                "details": details,
                "amount": amount,
            }
        )
    return rows


@app.command("show")
def show(
    ctx: typer.Context,
    customer_id: str = typer.Argument(help="The customer's id, e.g. C000001"),
    limit: int = typer.Option(
        DEFAULT_TIMELINE_LIMIT, "--limit", min=0, help="Newest timeline entries to show."
    ),
    output: OutputFormat = ShowFormatOption,
) -> None:
    """Print a customer's profile, subscriptions and timeline (orders with items, returns and
    events, newest first)."""
    from segmentum.service.customers import show_customer

    document = show_customer(workspace(ctx), customer_id, limit)
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(_plain(document), ensure_ascii=False) + "\n")
        return
    if output is OutputFormat.csv:
        emit(_timeline_rows(document), TIMELINE_COLUMNS, output)
        return
    console = Console()
    profile = Table(title=f"Customer {customer_id}", show_header=False)
    profile.add_column("field")
    profile.add_column("value")
    for key, value in {**document["profile"], **document["summary"]}.items():
        profile.add_row(key, _cell(value))
    console.print(profile)
    subscriptions = Table(title="Subscriptions")
    for column in ("channel", "status", "changed_at", "source"):
        subscriptions.add_column(column)
    for row in document["subscriptions"]:
        subscriptions.add_row(
            *(_cell(row[c]) for c in ("channel", "status", "changed_at", "source"))
        )
    console.print(subscriptions)
    shown, total = len(document["timeline"]), document["timeline_total"]
    timeline = Table(title=f"Timeline (newest first, {shown} of {total})")
    for column in TIMELINE_COLUMNS:
        timeline.add_column(column, justify="right" if column == "amount" else "left")
    for row in _timeline_rows(document):
        timeline.add_row(*(_cell(row[column]) for column in TIMELINE_COLUMNS))
    console.print(timeline)


def stats(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Print every table's row count and the date range of its time column."""
    from segmentum.service.customers import table_stats

    emit(
        table_stats(workspace(ctx)),
        ("table", "rows", "time_column", "first", "last"),
        output,
        title="Tables",
    )
