"""`segmentum clv`: BTYD summary, model fit, per-customer predictions and the holdout check.

The use cases are imported inside the commands, so that `--help` starts fast; the defaults
the help shows are therefore copies of the service's (tests/cli/test_cli_start.py checks them).
"""

from __future__ import annotations

from pathlib import Path

import typer

from segmentum.cli.context import workspace
from segmentum.cli.options import AsOfOption, FormatOption, parse_day
from segmentum.cli.output import OutputFormat, emit, emit_batches, emit_document, err_console
from segmentum.service.defaults import DEFAULT_DISCOUNT_RATE, DEFAULT_HORIZON_DAYS, DEFAULT_PERIOD

app = typer.Typer(
    help="Customer lifetime value: BTYD summary, BG/NBD + Gamma-Gamma fit, predictions.",
    invoke_without_command=True,
)


PeriodOption = typer.Option(
    DEFAULT_PERIOD, "--period", help="Time unit of the models: D (days) or W (weeks)."
)
HorizonOption = typer.Option(DEFAULT_HORIZON_DAYS, "--horizon", help="Prediction horizon in days.")
DiscountOption = typer.Option(
    DEFAULT_DISCOUNT_RATE,
    "--discount-rate",
    help="Annual discount rate for CLV (0.1 = 10 % a year).",
)
ROWS = 50_000


@app.callback()
def predictions(
    ctx: typer.Context,
    horizon: int = HorizonOption,
    discount_rate: float = DiscountOption,
    output: OutputFormat = FormatOption,
) -> None:
    """Per-customer p_alive, expected purchases, expected order value and CLV from the
    latest fit; the predictions are stored for predictive segment metrics."""
    if ctx.invoked_subcommand is not None:
        return
    from segmentum.service import clv as service

    ws = workspace(ctx)
    table, stored = service.predict(ws, horizon, discount_rate)
    err_console.print(
        f"{table.num_rows} customers, model of {stored.as_of_date} ({stored.period}), "
        f"horizon {horizon} days, discount rate {discount_rate}"
    )
    batches = (batch.to_pylist() for batch in table.to_batches(max_chunksize=ROWS))
    emit_batches(batches, service.PREDICTION_COLUMNS, output)


@app.command("summary")
def summary(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    period: str = PeriodOption,
    output: OutputFormat = FormatOption,
) -> None:
    """Per customer: frequency (repeat periods), recency and T (in periods), monetary (mean
    per-period spend after the first period), as lifetimes' summary_data_from_transaction_data."""
    from segmentum.service import clv as service

    ws = workspace(ctx)
    table, _ = service.summary_table(ws, parse_day(as_of), period)
    batches = (b.to_pylist() for b in table.to_pyarrow_batches(chunk_size=ROWS))
    emit_batches(batches, service.SUMMARY_COLUMNS, output)


def _parameter_rows(document: dict[str, object]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for model in ("bgnbd", "gamma_gamma"):
        block = document[model]
        assert isinstance(block, dict)
        for name, value in block.items():
            if isinstance(value, dict):
                rows.append(
                    {"model": model, "parameter": name, "value": value["value"], "se": value["se"]}
                )
            else:
                rows.append({"model": model, "parameter": name, "value": value, "se": None})
    return rows


@app.command("fit")
def fit(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    period: str = PeriodOption,
    output: OutputFormat = FormatOption,
) -> None:
    """Fit BG/NBD and Gamma-Gamma by maximum likelihood, store and print the parameters with
    standard errors and log-likelihoods."""
    from segmentum.service import clv as service

    ws = workspace(ctx)
    document = service.fit(ws, parse_day(as_of), period)
    if output is OutputFormat.json:
        emit_document(document, output)
        return
    err_console.print(f"as of {document['as_of']}, period {document['period']}")
    emit(_parameter_rows(document), ("model", "parameter", "value", "se"), output)


@app.command("refresh")
def refresh(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    period: str = PeriodOption,
    horizon: int = HorizonOption,
    discount_rate: float = DiscountOption,
    output: OutputFormat = FormatOption,
) -> None:
    """Fit, store the model and store fresh predictions (run it on a schedule)."""
    from segmentum.service import clv as service

    ws = workspace(ctx)
    emit_document(service.refresh(ws, parse_day(as_of), period, horizon, discount_rate), output)


@app.command("validate")
def validate(
    ctx: typer.Context,
    calibration_end: str = typer.Option(
        ..., "--calibration-end", help="Last day (YYYY-MM-DD) of the calibration period."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Last day of the holdout period (default: today)."
    ),
    period: str = PeriodOption,
    html: Path | None = typer.Option(
        None, "--html", help="Also write the chart as a self-contained HTML file."
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """Fit on the calibration period, then compare predicted with actual purchases in the
    holdout period per calibration frequency group."""
    from segmentum.service import clv as service

    ws = workspace(ctx)
    end = parse_day(calibration_end)
    assert end is not None
    result = service.validate(ws, end, parse_day(as_of), period)
    err_console.print(
        f"calibration to {result.calibration_end}, holdout to {result.end}: "
        f"{result.duration} periods of {result.period}"
    )
    emit(
        [row.as_dict() for row in result.groups],
        ("frequency", "customers", "actual", "predicted"),
        output,
    )
    if html is not None:
        html.write_text(result.chart(), encoding="utf-8")
        err_console.print(f"chart written to {html}")
