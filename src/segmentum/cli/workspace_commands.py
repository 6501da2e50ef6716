"""`segmentum workspace show|set|import|check`: workspace settings and the warehouse mapping."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from segmentum.cli.context import workspace
from segmentum.cli.output import OutputFormat, emit, emit_document, err_console
from segmentum.service.settings import import_settings, set_setting, show_settings
from segmentum.service.warehouse import check_workspace

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


@app.command("check")
def check(
    ctx: typer.Context,
    output: OutputFormat = FormatOption,
    schema_only: bool = typer.Option(
        False, "--schema-only", help="compare schemas only; skip the NULL/duplicate key scan"
    ),
) -> None:
    """Check the warehouse mapping against the live schema; exit 1 listing every problem."""
    report = check_workspace(workspace(ctx), data=not schema_only)
    if output is OutputFormat.json:
        emit_document(report.as_dict(), output)
    elif output is OutputFormat.csv:
        rows = [problem.as_dict() for problem in report.problems]
        emit(rows, ("table", "column", "kind", "expected", "found", "source"), output)
    else:  # one line per problem: long expected/found texts stay readable and greppable
        for problem in report.problems:
            typer.echo(f"- {problem.message}")
    if output is not OutputFormat.json:
        mapped = [row for row in report.tables if row["mapped"]]
        if not mapped:
            err_console.print("no mapped tables: every catalog table is Segmentum's own")
        elif report.ok:
            names = ", ".join(f"{row['table']} <- {row['source']}" for row in mapped)
            err_console.print(f"mapping OK: {names}", markup=False)
    if not report.ok:
        err_console.print(f"{len(report.problems)} mapping problem(s)")
        raise typer.Exit(1)
