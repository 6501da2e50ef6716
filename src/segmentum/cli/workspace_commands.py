"""`segmentum workspace show|set|import|check|prepare-realtime`: workspace settings, the
warehouse mapping, and the storage layout for real-time micro-batches.

The use cases are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from segmentum.cli.context import workspace
from segmentum.cli.output import OutputFormat, emit, emit_document, err_console

app = typer.Typer(help="Show and change workspace settings (timezone, currency, attributes...).")

FormatOption = typer.Option(OutputFormat.table, "--format", "-f", help="table, csv or json")


@app.command("show")
def show(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Print every setting with its current value (defaults included)."""
    import yaml

    from segmentum.service.settings import show_settings

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
    from segmentum.service.settings import set_setting

    set_setting(workspace(ctx), key, value)
    err_console.print(f"{key} set")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(help="YAML file; its top-level keys replace current values"),
) -> None:
    """Load settings from a YAML file (custom attributes, event types, thresholds...)."""
    from segmentum.service.settings import import_settings

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
    from segmentum.service.warehouse import check_workspace

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


@app.command("prepare-realtime")
def prepare_realtime(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Rewrite the activity tables uncompressed and clustered by customer, for fast
    real-time lookups (DuckDB).

    Micro-batches of `segmentum serve` then fetch the touched customers' rows 5-10x faster,
    for about twice the database file size; a one-off rewrite (about a minute for 10M
    events, 10M orders and 17M order items). Order items also get their order's customer
    (column rt_customer_id, kept by the intake and repaired when the server starts). See
    docs/realtime.md."""
    from segmentum.service.lookup_layout import prepare as prepare_lookup_layout

    with err_console.status("rewriting") as status:
        report = prepare_lookup_layout(
            workspace(ctx), progress=lambda table: status.update(f"rewriting {table}")
        )
    rows = [
        {"table": t.table, "rows": t.rows, "seconds": round(t.seconds, 1)} for t in report.tables
    ]
    emit(rows, ("table", "rows", "seconds"), output)
    err_console.print(
        f"lookup layout ready: database {report.bytes_before / 2**20:,.0f} MiB -> "
        f"{report.bytes_after / 2**20:,.0f} MiB"
    )
