"""Options shared by many commands, so each means the same everywhere."""

from __future__ import annotations

from datetime import date, datetime

import typer

from segmentum.cli.output import OutputFormat

FormatOption = typer.Option(
    OutputFormat.table, "--format", "-f", help="table (for people), csv or json (data only)"
)

AsOfOption = typer.Option(
    None,
    "--as-of",
    help="Evaluate at the end of this day (YYYY-MM-DD) in the workspace timezone; default now.",
)


def parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not a date like 2024-05-31") from error
