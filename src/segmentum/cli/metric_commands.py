"""`segmentum lifecycle` and `segmentum rfm`: activity stages and RFM scores.

The use cases are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

import typer

from segmentum.cli.context import workspace
from segmentum.cli.options import AsOfOption, FormatOption, parse_day
from segmentum.cli.output import OutputFormat, emit, emit_batches

LIFECYCLE_COLUMNS = ("customer_id", "stage", "days_since_last_purchase")


def lifecycle(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    customers: bool = typer.Option(False, "--customers", help="One row per customer."),
    output: OutputFormat = FormatOption,
) -> None:
    """Customers per lifecycle stage (zero, active, returned, pre_churn, churn, gone)."""
    from segmentum.service import metrics

    ws = workspace(ctx)
    if customers:
        table, _ = metrics.lifecycle_table(ws, parse_day(as_of))
        table = table.order_by("customer_id")
        batches = (b.to_pylist() for b in table.to_pyarrow_batches(chunk_size=50_000))
        emit_batches(batches, LIFECYCLE_COLUMNS, output)
        return
    emit(metrics.lifecycle_counts(ws, parse_day(as_of)), ("stage", "customers", "share"), output)


def rfm(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    preset: str | None = typer.Option(
        None, "--preset", help="Group table: ranges (default), grid or four."
    ),
    customers: bool = typer.Option(False, "--customers", help="One row per scored customer."),
    output: OutputFormat = FormatOption,
) -> None:
    """RFM: the R×F grid with customers and revenue share, and customers per group."""
    from segmentum.service import metrics

    ws = workspace(ctx)
    if customers:
        table, _ = metrics.rfm_table(ws, parse_day(as_of), preset)
        table = table.order_by("customer_id")
        batches = (b.to_pylist() for b in table.to_pyarrow_batches(chunk_size=50_000))
        emit_batches(batches, metrics.RFM_COLUMNS, output)
        return
    grid, groups = metrics.rfm_summary(ws, parse_day(as_of), preset)
    if output is OutputFormat.table:
        emit(grid, ("r_score", "f_score", "customers", "revenue_share"), output, title="R × F")
        emit(groups, ("rfm_group", "customers", "revenue"), output, title="Groups")
        return
    emit(
        [{"kind": "group", **row} for row in groups] + [{"kind": "cell", **row} for row in grid],
        ("kind", "rfm_group", "r_score", "f_score", "customers", "revenue", "revenue_share"),
        output,
    )
