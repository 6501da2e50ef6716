"""`segmentum automations ...`: rules that act when a customer enters or leaves a segment.

The use cases are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from segmentum.cli.context import workspace
from segmentum.cli.output import OutputFormat, emit, err_console

app = typer.Typer(help="Automations: when a customer enters or leaves a segment, act.")

FormatOption = typer.Option(OutputFormat.table, "--format", "-f", help="table, csv or json")
LIST_COLUMNS = ("automation", "state", "trigger", "action", "delay", "pending", "done",
                "skipped", "failed")  # fmt: skip


@app.command("create")
def create(
    ctx: typer.Context,
    file: Path = typer.Option(..., "--file", help="The automation (YAML or JSON)."),
) -> None:
    """Create an automation (active at once) from a YAML file."""
    from segmentum.service import automations as service

    created = service.create_automation(workspace(ctx), service.load_automation_file(file))
    err_console.print(f"created automation {created['name']} ({created['state']})")


@app.command("list")
def list_(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Every automation with its trigger, action and run counts."""
    from segmentum.service import automations as service

    emit(service.list_automations(workspace(ctx)), LIST_COLUMNS, output)


@app.command("pause")
def pause(ctx: typer.Context, name: str = typer.Argument(help="The automation's name")) -> None:
    """Stop acting: changes while paused are skipped, queued messages wait."""
    from segmentum.service import automations as service

    err_console.print(f"automation {name}: {service.pause(workspace(ctx), name)}")


@app.command("resume")
def resume(ctx: typer.Context, name: str = typer.Argument(help="The automation's name")) -> None:
    """Act again on new membership changes."""
    from segmentum.service import automations as service

    err_console.print(f"automation {name}: {service.resume(workspace(ctx), name)}")


@app.command("install-library")
def install_library(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Install the seed automations (welcome, purchase follow-up, abandoned cart, survey
    reminders, win-back) whose segments (`segmentum segments install-library`) exist."""
    from segmentum.service import automations as service

    emit(service.install_library(workspace(ctx)), ("name", "status", "detail"), output)


@app.command("dead-letters")
def dead_letters(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Webhook calls that failed every attempt."""
    from segmentum.service import automations as service

    columns = ("delivery_id", "automation", "customer_id", "url", "attempts", "last_status",
               "last_error", "dead_at")  # fmt: skip
    emit(service.dead_letters(workspace(ctx)), columns, output)
