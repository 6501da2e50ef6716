"""The `segmentum` command: Typer + Rich; data on stdout, everything else on stderr.

Only Typer, Rich and light modules load with the command tree; each command imports its use
cases (and ibis, DuckDB, ...) when it runs, so that `--help` starts fast
(tests/cli/test_cli_start.py holds it).
"""

from __future__ import annotations

import sys

import typer

from segmentum.cli import (
    automation_commands,
    campaign_commands,
    clv_commands,
    customer_commands,
    demo_commands,
    import_commands,
    ingest_commands,
    keys_commands,
    metric_commands,
    privacy_commands,
    report_commands,
    segment_commands,
    serve_commands,
    sms_commands,
    user_commands,
    workspace_commands,
)
from segmentum.cli.context import CliState

app = typer.Typer(
    name="segmentum",
    help="Segment a customer base and run targeted SMS / email / web-push campaigns.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain usage errors: a short reason on stderr instead of a drawn box.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(workspace_commands.app, name="workspace")
app.add_typer(sms_commands.app, name="sms")
app.add_typer(import_commands.app, name="import")
app.add_typer(segment_commands.app, name="segments")
app.command("lifecycle")(metric_commands.lifecycle)
app.command("rfm")(metric_commands.rfm)
app.add_typer(clv_commands.app, name="clv")
app.add_typer(demo_commands.app, name="demo")
app.add_typer(customer_commands.app, name="customers")
app.command("stats")(customer_commands.stats)
app.add_typer(campaign_commands.app, name="campaigns")
app.command("worker")(campaign_commands.worker)
app.add_typer(automation_commands.app, name="automations")
campaign_commands.app.command("report")(report_commands.campaign_report)
campaign_commands.app.command("save-responders")(report_commands.save_responders)
app.add_typer(report_commands.app, name="report")
app.command("serve")(serve_commands.serve)
app.add_typer(user_commands.app, name="users")
app.add_typer(keys_commands.app, name="keys")
app.command("ingest")(ingest_commands.ingest)
customer_commands.app.command("forget")(privacy_commands.forget)
customer_commands.app.command("export")(privacy_commands.export)


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
    """Entry point: user errors become one line on stderr and exit code 1.

    Typer's standalone mode already turns usage errors into exit code 2 with a message.
    """
    try:
        app()
    except Exception as error:
        # Resolved only once something failed: the error classes live with the engine and the
        # store, which `--help` does not load.
        from segmentum.service.errors import user_errors

        if not isinstance(error, user_errors()):
            raise
        message = " ".join(str(error).split())
        sys.stderr.write(f"error: {message}\n")
        sys.exit(1)
