"""`segmentum campaigns ...` and `segmentum worker`.

The use cases are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import typer

from segmentum.cli.context import workspace
from segmentum.cli.output import OutputFormat, emit, emit_document, err_console

app = typer.Typer(help="Per-segment campaigns: create, preview, dry-run, send, follow.")

FormatOption = typer.Option(OutputFormat.table, "--format", "-f", help="table, csv or json")
FileOption = typer.Option(..., "--file", help="The campaign definition (YAML or JSON).")
SUMMARY_COLUMNS = (
    "segment", "variant", "audience", "eligible", "held_out", "generic", "queued", "deferred",
    "skipped", "no_address", "no_consent", "suppressed", "frequency_cap", "budget",
    "render_error", "sms_segments", "cost",
)  # fmt: skip
PREVIEW_COLUMNS = ("segment", "variant", "customer_id", "language", "subject", "body", "error",
                   "reason", "sms_segments")  # fmt: skip


@app.command("create")
def create(
    ctx: typer.Context,
    file: Path = FileOption,
) -> None:
    """Create a draft campaign from a YAML file (its segments and template fields are checked)."""
    from segmentum.service import campaigns as service

    stored = service.create_campaign(workspace(ctx), service.load_campaign_file(file))
    err_console.print(f"created campaign {stored.campaign_id} ({stored.state})")


@app.command("list")
def list_(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Every campaign with its channel, state and schedule."""
    from segmentum.service import campaigns as service

    rows = service.list_campaigns(workspace(ctx))
    columns = ("campaign", "channel", "state", "segments", "schedule", "occurrences",
               "next_run_at", "updated_at")  # fmt: skip
    emit(rows, columns, output)


@app.command("preview")
def preview(
    ctx: typer.Context,
    campaign_id: str = typer.Argument(help="The campaign's name"),
    sample: int = typer.Option(3, "--sample", min=1, help="Recipients per variant."),
    output: OutputFormat = FormatOption,
) -> None:
    """Render sample recipients of each variant (and the generic share); nothing is sent."""
    from segmentum.service import campaigns as service

    rows = service.preview(workspace(ctx), campaign_id, sample)
    emit(rows, PREVIEW_COLUMNS, output)


@app.command("dry-run")
def dry_run(
    ctx: typer.Context,
    campaign_id: str = typer.Argument(help="The campaign's name"),
    output: OutputFormat = FormatOption,
) -> None:
    """Counts per segment and variant, held out, skipped by reason, SMS segments and cost,
    without sending or storing anything."""
    from segmentum.service import campaigns as service

    emit(service.dry_run(workspace(ctx), campaign_id), SUMMARY_COLUMNS, output)


@app.command("send")
def send(ctx: typer.Context, campaign_id: str = typer.Argument(help="The campaign's name")) -> None:
    """Start a draft: a `now` campaign snapshots its audience and queues its messages at once
    (`segmentum worker` delivers them); a scheduled one waits for the worker."""
    from segmentum.service import campaigns as service

    result = service.send(workspace(ctx), campaign_id)
    if result["state"] == "sending":
        queued = sum(int(row["queued"]) for row in result["summary"])
        err_console.print(
            f"campaign {campaign_id}: occurrence {result['occurrence']} planned, {queued} "
            "messages queued; run `segmentum worker --until-idle` to deliver"
        )
    else:
        err_console.print(f"campaign {campaign_id} scheduled; first run {result['next_run_at']}")


@app.command("pause")
def pause(
    ctx: typer.Context, campaign_id: str = typer.Argument(help="The campaign's name")
) -> None:
    """Stop delivering (queued messages wait); `resume` continues with the same ledger."""
    from segmentum.service import campaigns as service

    err_console.print(f"campaign {campaign_id}: {service.pause(workspace(ctx), campaign_id)}")


@app.command("resume")
def resume(
    ctx: typer.Context, campaign_id: str = typer.Argument(help="The campaign's name")
) -> None:
    """Continue a paused campaign."""
    from segmentum.service import campaigns as service

    err_console.print(f"campaign {campaign_id}: {service.resume(workspace(ctx), campaign_id)}")


@app.command("cancel")
def cancel(
    ctx: typer.Context, campaign_id: str = typer.Argument(help="The campaign's name")
) -> None:
    """Cancel: queued messages are skipped (reason cancelled)."""
    from segmentum.service import campaigns as service

    err_console.print(f"campaign {campaign_id}: {service.cancel(workspace(ctx), campaign_id)}")


@app.command("status")
def status(
    ctx: typer.Context,
    campaign_id: str = typer.Argument(help="The campaign's name"),
    output: OutputFormat = FormatOption,
) -> None:
    """The campaign's state and its ledger counts by occurrence, status and reason."""
    from segmentum.service import campaigns as service

    document = service.status(workspace(ctx), campaign_id)
    if output is OutputFormat.json:
        emit_document(document, output)
        return
    err_console.print(
        f"{document['campaign']}: {document['state']} ({document['channel']}, "
        f"{document['occurrences']} occurrence(s))"
    )
    emit(document["ledger"], ("occurrence", "status", "reason", "messages", "sms_segments",
                              "cost"), output)  # fmt: skip


@app.command("test-send")
def send_test(
    ctx: typer.Context,
    campaign_id: str = typer.Argument(help="The campaign's name"),
    output: OutputFormat = FormatOption,
) -> None:
    """Send each variant to the workspace's seed list (settings.seed_list), not to customers."""
    from segmentum.service import campaigns as service

    rows = service.send_test(workspace(ctx), campaign_id)
    emit(rows, ("segment", "variant", "recipient", "status", "reason"), output)


def worker(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="One round: plan what is due, deliver it."),
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Stop when nothing is due now (deferred messages wait)."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Rows per claim."),
    poll: float = typer.Option(1.0, "--poll", min=0.01, help="Seconds between idle polls."),
) -> None:
    """Run scheduled and recurring sends and deliver due messages through the ledger."""
    from segmentum.service import campaigns as service

    stop: dict[str, Any] = {"flag": False}

    def _stop(signum: int, frame: Any) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    report = service.run_worker(
        workspace(ctx),
        once=once,
        until_idle=until_idle,
        batch_size=batch_size,
        poll_seconds=poll,
        should_stop=lambda: bool(stop["flag"]),
    )
    err_console.print(
        f"worker: {report.planned} occurrence(s) planned, {report.delivered} message(s) "
        f"handled, {report.completed} campaign(s) finished"
    )
