"""The `segmentum` command: Typer + Rich; data on stdout, everything else on stderr."""

from __future__ import annotations

import sys

import typer

from segmentum.cli import (
    customer_commands,
    demo_commands,
    import_commands,
    metric_commands,
    segment_commands,
    workspace_commands,
)
from segmentum.cli.context import CliState
from segmentum.service.errors import user_errors

app = typer.Typer(
    name="segmentum",
    help="Segment a customer base and run targeted SMS / email / web-push campaigns.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(workspace_commands.app, name="workspace")
app.add_typer(import_commands.app, name="import")
app.add_typer(segment_commands.app, name="segments")
app.command("lifecycle")(metric_commands.lifecycle)
app.command("rfm")(metric_commands.rfm)
app.add_typer(demo_commands.app, name="demo")
app.add_typer(customer_commands.app, name="customers")
app.command("stats")(customer_commands.stats)


@app.callback()
def root(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="SEGMENTUM_DB",
        help="Data engine: a DuckDB path or a URL (default ./segmentum.duckdb).",
    ),
    app_db: str | None = typer.Option(
        None,
        "--app-db",
        envvar="SEGMENTUM_APP_DB",
        help="App store (definitions, memberships, campaigns); default: the data engine's file.",
    ),
) -> None:
    state = CliState(db=db, app_db=app_db)
    ctx.obj = state
    ctx.call_on_close(state.close)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 1."""
    try:
        app(standalone_mode=False)
    except user_errors() as error:
        message = " ".join(str(error).split())
        sys.stderr.write(f"error: {message}\n")
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except Exception as click_error:
        import click

        if isinstance(click_error, click.ClickException):
            click_error.show()
            sys.exit(click_error.exit_code)
        raise
