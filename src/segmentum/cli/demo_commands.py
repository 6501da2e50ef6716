"""`segmentum demo` (load the demo shop) and `segmentum demo generate` (benchmark files).

The use cases are imported inside the commands, so that `--help` starts fast; the defaults
the help shows are therefore copies of the service's (tests/cli/test_cli_start.py checks them).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from segmentum.cli.context import CliState, workspace
from segmentum.cli.output import OutputFormat, emit_document, err_console
from segmentum.cli.serve_commands import run_server
from segmentum.service.defaults import DEFAULT_CUSTOMERS, DEFAULT_SEED

if TYPE_CHECKING:
    from segmentum.service.demo import DemoCampaignResult

app = typer.Typer(
    help=(
        "Load a realistic demo shop (CZK, Europe/Prague; 50,000 customers, ~500,000 orders over "
        "three years) into the workspace, or write benchmark Parquet files of any size."
    ),
    invoke_without_command=True,
)


EndOption = typer.Option(
    None,
    "--end",
    formats=["%Y-%m-%d"],
    help="Last day of the history (YYYY-MM-DD, end of day in Europe/Prague); default now. "
    "The same --seed and --end give identical data.",
)
SeedOption = typer.Option(DEFAULT_SEED, "--seed", help="Random seed; same seed, same shop.")
OrdersOption = typer.Option(
    None, "--orders", min=0, help="Target number of orders (default 10 per customer)."
)

SummaryFormatOption = typer.Option(
    OutputFormat.table, "--format", "-f", help="Summary as table, csv or json."
)
OutOption = typer.Option(..., "--out", help="Directory for <table>.parquet files.")


def _day(value: datetime | None) -> Any:
    return value.date() if value is not None else None


@app.callback()
def demo(
    ctx: typer.Context,
    customers: int = typer.Option(
        DEFAULT_CUSTOMERS, "--customers", min=1, help="Number of customers to generate."
    ),
    orders: int | None = OrdersOption,
    end: datetime | None = EndOption,
    seed: int = SeedOption,
    replace: bool = typer.Option(
        False, "--replace", help="Empty the data tables first if the workspace has customers."
    ),
    output: OutputFormat = SummaryFormatOption,
    no_campaign: bool = typer.Option(
        False, "--no-campaign", help="Only load the shop; skip the demo SMS campaign."
    ),
    serve: bool = typer.Option(
        False, "--serve", help="Then start the server on the demo workspace (like `serve`)."
    ),
    port: int = typer.Option(8000, "--port", help="Port for --serve."),
) -> None:
    """Generate the demo shop and load it through the importers, then describe the base; then
    install the segment library and send a segmented SMS campaign to the file outbox."""
    if ctx.invoked_subcommand is not None:
        return
    from segmentum.service.demo import load_demo, run_demo_campaign, shop_config

    config = shop_config(customers=customers, orders=orders, end=_day(end), seed=seed)
    ws = workspace(ctx)
    with err_console.status("generating the demo shop") as status:
        result = load_demo(ws, config, replace=replace, progress=lambda step: status.update(step))
    campaign: DemoCampaignResult | None = None
    if not no_campaign:
        with err_console.status("running the demo campaign") as status:
            campaign = run_demo_campaign(ws, config, progress=lambda step: status.update(step))
    base = result.base
    if result.rejected:
        err_console.print(f"[yellow]warning: {result.rejected} generated rows were rejected[/]")
    if output is not OutputFormat.table:
        document = base.as_dict()
        document["seconds"] = round(result.seconds, 1)
        if campaign is not None:
            document["campaign"] = {
                "campaign": campaign.campaign_id,
                "sent_at": campaign.sent_at,
                "outbox": campaign.outbox,
                "segments": campaign.rows,
                "results": campaign.results,
                "seconds": round(campaign.seconds, 1),
            }
        emit_document(document, output)
        return
    table = Table(title="Demo shop loaded", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    share = base.never_bought / base.customers if base.customers else 0.0
    table.add_row("customers", f"{base.customers:,}")
    table.add_row("buyers", f"{base.buyers:,}")
    table.add_row("never bought", f"{base.never_bought:,} ({share:.0%})")
    table.add_row("orders", f"{base.orders:,}")
    table.add_row("revenue", f"{base.revenue:,.2f} {base.currency}")
    first = base.first_order_at.date().isoformat() if base.first_order_at else "-"
    last = base.last_order_at.date().isoformat() if base.last_order_at else "-"
    table.add_row("orders from", f"{first} to {last}")
    table.add_row("countries", ", ".join(f"{code} {n:,}" for code, n in base.countries))
    for channel, count in base.subscribers.items():
        table.add_row(f"{channel} subscribers", f"{count:,}")
    table.add_row("loaded in", f"{result.seconds:.1f} s")
    Console().print(table)
    if campaign is not None:
        _print_campaign(campaign)
    err_console.print(
        "Next, try:\n"
        "  segmentum stats\n"
        "  segmentum customers show C000001\n"
        "  segmentum lifecycle\n"
        "  segmentum rfm\n"
        "  segmentum workspace show"
    )
    if serve:
        state = ctx.find_root().obj
        assert isinstance(state, CliState)
        run_server(state, "127.0.0.1", port, worker=True)


SKIP_REASONS = ("no_consent", "no_address", "suppressed", "frequency_cap", "budget",
                "render_error")  # fmt: skip


def _print_campaign(campaign: DemoCampaignResult) -> None:
    sent_at = f"{campaign.sent_at:%Y-%m-%d %H:%M} UTC"
    table = Table(title=f"Demo campaign {campaign.campaign_id} (SMS, {sent_at})")
    table.add_column("segment")
    for column in ("eligible", "held out", "sent", "deferred"):
        table.add_column(column, justify="right")
    table.add_column("skipped by reason")
    table.add_column("SMS parts", justify="right")
    table.add_column("cost", justify="right")
    for row in campaign.rows:
        skipped = ", ".join(
            f"{reason.replace('_', ' ')} {row[reason]:,}" for reason in SKIP_REASONS if row[reason]
        )
        table.add_row(
            row["segment"],
            *(f"{row[c]:,}" for c in ("eligible", "held_out", "sent", "deferred")),
            skipped or "-",
            f"{row['sms_segments']:,}",
            f"{row['cost']:,.2f}",
        )
    Console().print(table)
    if campaign.results:
        _print_results(campaign)
    for note in campaign.notes:
        err_console.print(f"[yellow]note: {note}[/]")
    where = f" to {campaign.outbox}" if campaign.outbox else ""
    err_console.print(
        f"campaign sent{where} in {campaign.seconds:.1f} s; see "
        f"`segmentum campaigns status {campaign.campaign_id}`"
    )


def _print_results(campaign: DemoCampaignResult) -> None:
    table = Table(title="Simulated responses: conversion and uplift over the holdout")
    for column in ("segment", "converted", "rate", "holdout", "uplift (pp)", "95% interval"):
        table.add_column(column, justify="left" if column == "segment" else "right")
    for row in campaign.results:
        interval = "-"
        if row["uplift_pp_low"] is not None and row["uplift_pp_high"] is not None:
            interval = f"{row['uplift_pp_low']:+.1f} to {row['uplift_pp_high']:+.1f}"
        holdout = f"{row['holdout_converted'] or 0}/{row['holdout_n'] or 0}"
        uplift = "-" if row["uplift_pp"] is None else f"{row['uplift_pp']:+.1f}"
        rate = "-" if row["conversion_rate"] is None else f"{row['conversion_rate']:.1%}"
        name = "whole campaign" if row["segment"] == "*" else str(row["segment"])
        table.add_row(name, f"{row['converted']}/{row['treated']}", rate, holdout, uplift, interval)
    Console().print(table)


@app.command("generate")
def generate(
    out: Path = OutOption,
    customers: int = typer.Option(
        1_000_000, "--customers", min=1, help="Number of customers to generate."
    ),
    orders: int | None = OrdersOption,
    end: datetime | None = EndOption,
    seed: int = SeedOption,
) -> None:
    """Write benchmark data as Parquet files per table, without loading anything."""
    from segmentum.service.demo import generate_files, shop_config

    config = shop_config(customers=customers, orders=orders, end=_day(end), seed=seed)
    started = time.perf_counter()
    with err_console.status("generating") as status:
        paths = generate_files(
            config, out, lambda done, total: status.update(f"generated {done:,}/{total:,}")
        )
    err_console.print(f"wrote {len(paths)} files to {out} in {time.perf_counter() - started:.1f} s")
    for path in paths.values():
        typer.echo(str(path))
