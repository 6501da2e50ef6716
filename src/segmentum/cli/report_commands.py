"""`segmentum campaigns report|save-responders` and `segmentum report segments`.

The reports use cases are imported inside the commands: they load the analytics stack
(≈ 1 s), which no other command, ``--help`` included, needs.
"""

from __future__ import annotations

from pathlib import Path

import typer

from segmentum.cli.context import workspace
from segmentum.cli.options import FormatOption, parse_day
from segmentum.cli.output import OutputFormat, emit, emit_document, err_console

app = typer.Typer(help="Reports: segment sizes over time, transitions, cohorts.")

HtmlOption = typer.Option(
    None, "--html", help="Also write a self-contained HTML page with charts (plotly.js inlined)."
)


def campaign_report(
    ctx: typer.Context,
    campaign_id: str = typer.Argument(help="The campaign's name"),
    output: OutputFormat = FormatOption,
    html: Path | None = HtmlOption,
) -> None:
    """Results per segment × variant (and the generic share, each segment, the campaign):
    sends, clicks, conversions, revenue, cost, ROI and the uplift over the holdout with its
    95% interval and tests. The table shows the main columns; csv and json carry all."""
    from segmentum.service import reports as service  # on use: the analytics stack

    ws = workspace(ctx)
    report = service.report_campaign(ws, campaign_id)
    if html is not None:
        service.write_html(html, service.campaign_html(report))
        err_console.print(f"wrote {html}")
    if output is OutputFormat.json:
        emit_document(service.report_document(report), output)
        return
    columns = service.SUMMARY_COLUMNS if output is OutputFormat.table else service.COLUMNS
    emit(report.rows, columns, output)


def save_responders(
    ctx: typer.Context,
    campaign_id: str = typer.Argument(help="The campaign's name"),
    name: str = typer.Argument(help="The new segment's name"),
) -> None:
    """Save the customers who clicked, replied or converted on a campaign as a segment."""
    from segmentum.service import reports as service  # on use: the analytics stack

    stored = service.save_responders(workspace(ctx), campaign_id, name)
    err_console.print(f"saved segment {stored.name} (version {stored.version})")


@app.command("segments")
def segments(
    ctx: typer.Context,
    date_from: str | None = typer.Option(None, "--from", help="First day (default: 30 days ago)."),
    date_to: str | None = typer.Option(None, "--to", help="Last day (default: today)."),
    output: OutputFormat = FormatOption,
    html: Path | None = HtmlOption,
) -> None:
    """Segment sizes per day from the membership log, lifecycle and RFM transitions between
    the two dates, cohort retention by signup month."""
    from segmentum.service import reports as service  # on use: the analytics stack

    report = service.report_segments(workspace(ctx), parse_day(date_from), parse_day(date_to))
    if html is not None:
        service.write_html(html, service.segments_html(report))
        err_console.print(f"wrote {html}")
    if output is OutputFormat.json:
        emit_document(report.as_dict(), output)
        return
    emit(report.sizes, ("segment", "date", "size"), output, title="Segment sizes")
    if output is OutputFormat.table:
        emit(report.lifecycle_transitions, ("from", "to", "customers"), output,
             title=f"Lifecycle stage {report.date_from} → {report.date_to}")  # fmt: skip
        emit(report.rfm_transitions, ("from", "to", "customers"), output,
             title=f"RFM group {report.date_from} → {report.date_to}")  # fmt: skip
        emit(report.cohorts, ("cohort", "month", "cohort_size", "active", "retention"), output,
             title="Cohort retention")  # fmt: skip
