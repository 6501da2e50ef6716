"""`segmentum workspace show|set|import`: workspace settings."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from segmentum.cli.context import workspace
from segmentum.cli.output import OutputFormat, emit_document, err_console
from segmentum.service.settings import import_settings, set_setting, show_settings

app = typer.Typer(help="Show and change workspace settings (timezone, currency, attributes...).")

FormatOption = typer.Option(OutputFormat.table, "--format", "-f", help="table, csv or json")


@app.command("show")
def show(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Print every setting with its current value (defaults included)."""
    settings = show_settings(workspace(ctx))
    if output is OutputFormat.table:
        typer.echo(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), nl=False)
    else:
        emit_document(settings, output)


@app.command("set")
def set_(
    ctx: typer.Context,
    key: str = typer.Argument(help="dotted key, e.g. timezone or lifecycle.active_days"),
    value: str = typer.Argument(help="JSON value, or a plain string"),
) -> None:
    """Change one setting, e.g. `segmentum workspace set timezone Europe/Prague`."""
    set_setting(workspace(ctx), key, value)
    err_console.print(f"{key} set")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(help="YAML file; its top-level keys replace current values"),
) -> None:
    """Load settings from a YAML file (custom attributes, event types, thresholds...)."""
    import_settings(workspace(ctx), file)
    err_console.print(f"settings imported from {file}")
