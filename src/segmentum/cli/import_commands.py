"""`segmentum import TABLE FILE`: load customers, products, orders... from CSV/Parquet/JSONL.

The importers are imported inside the command, so that `--help` starts fast.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from segmentum.cli.context import workspace
from segmentum.cli.output import OutputFormat, emit_document, err_console

if TYPE_CHECKING:
    from segmentum.service.imports import ImportSummary

app = typer.Typer(
    help=(
        "Import a CSV, Parquet or JSON-lines file into a table. Bad rows go to the quarantine "
        "and to FILE.rejected.csv with every reason; valid rows load. Re-importing is safe."
    ),
    no_args_is_help=True,
)


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"


_TABLES = {
    "customers": "customers",
    "products": "products",
    "orders": "orders",
    "order-items": "order_items",
    "returns": "returns",
    "events": "events",
    "subscriptions": "subscriptions",
}


def _run(
    ctx: typer.Context,
    table: str,
    file: Path,
    maps: list[str],
    mapping_file: Path | None,
    save_mapping: Path | None,
    date_format: str | None,
    default_region: str | None,
    encoding: str | None,
    delimiter: str | None,
    timezone: str | None,
    rates_file: Path | None,
    create_customers: bool,
    rejects: Path | None,
    file_format: FileFormat | None,
    output: OutputFormat,
) -> None:
    from segmentum.service.errors import ServiceError
    from segmentum.service.imports import (
        ImportOptions,
        import_file,
        load_mapping_file,
        load_rates,
        parse_map_options,
        save_mapping_file,
    )

    settings: dict[str, str | None] = {
        "date_format": date_format,
        "default_region": default_region,
        "encoding": encoding,
        "delimiter": delimiter,
        "timezone": timezone,
    }
    columns: dict[str, str] = {}
    if mapping_file is not None:
        loaded = load_mapping_file(mapping_file)
        if loaded.get("table") not in (None, table):
            raise ServiceError(f"{mapping_file} is a mapping for {loaded['table']}, not {table}")
        columns.update(loaded.get("columns", {}))
        for key, value in loaded.items():
            if key in settings and settings[key] is None and value is not None:
                settings[key] = str(value)
    columns.update(parse_map_options(maps))
    if save_mapping is not None:
        save_mapping_file(save_mapping, table, columns, settings)
        err_console.print(f"mapping saved to {save_mapping}")
    rates: dict[str, Decimal] | None = load_rates(rates_file) if rates_file else None
    fmt: Literal["csv", "parquet", "jsonl"] | None = file_format.value if file_format else None
    options = ImportOptions(
        mapping=columns,
        date_format=settings["date_format"],
        default_region=settings["default_region"],
        encoding=settings["encoding"],
        delimiter=settings["delimiter"],
        timezone=settings["timezone"],
        rates=rates,
        create_customers=create_customers,
        rejects_path=rejects,
        file_format=fmt,
    )
    ws = workspace(ctx)
    with Progress(
        TextColumn("[bold]import {task.description}"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"{table} {file.name}", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = import_file(ws, table, file, options, report)
    _report(summary, output)


def _report(summary: ImportSummary, output: OutputFormat) -> None:
    if output is not OutputFormat.table:  # json or csv: the summary on stdout, for scripts
        emit_document(summary.as_dict(), output)
        return
    console = err_console
    console.print(
        f"[bold]{summary.table}[/] from {summary.source}: loaded {summary.loaded}, "
        f"updated {summary.updated}, unchanged {summary.unchanged}, rejected {summary.rejected}"
    )
    for reason, count in summary.rejected_by_reason.items():
        console.print(f"  {reason}: {count}")
    if summary.rejects_path is not None:
        console.print(f"rejected rows written to {summary.rejects_path}")


def _command(cli_name: str, table: str) -> None:
    def command(
        ctx: typer.Context,
        file: Path = typer.Argument(
            help="CSV, Parquet (.parquet) or JSON lines (.jsonl), by the last suffix; "
            "gzip (.gz) is decompressed"
        ),
        maps: list[str] = typer.Option(
            [], "--map", "-m", help="TARGET=SOURCE column mapping; repeatable"
        ),
        mapping_file: Path | None = typer.Option(
            None, "--mapping", help="YAML mapping file (columns and options) to apply"
        ),
        save_mapping: Path | None = typer.Option(
            None, "--save-mapping", help="Save the mapping and options to this YAML file"
        ),
        date_format: str | None = typer.Option(
            None, "--date-format", help="strptime format, e.g. %d.%m.%Y (default ISO 8601)"
        ),
        default_region: str | None = typer.Option(
            None, "--default-region", help="Region of national phone numbers, e.g. CZ"
        ),
        encoding: str | None = typer.Option(
            None, "--encoding", help="File encoding, e.g. cp1251 (default UTF-8)"
        ),
        delimiter: str | None = typer.Option(
            None, "--delimiter", help="CSV delimiter (default: detected from the header)"
        ),
        timezone: str | None = typer.Option(
            None, "--timezone", help="Zone of zone-less times (default: workspace timezone)"
        ),
        rates_file: Path | None = typer.Option(
            None, "--rates", help="Exchange rates file (CSV or YAML currency,rate)"
        ),
        create_customers: bool = typer.Option(
            False, "--create-customers", help="Create bare profiles for unknown customers"
        ),
        rejects: Path | None = typer.Option(
            None, "--rejects", help="Rejects file (default FILE.rejected.csv)"
        ),
        file_format: FileFormat | None = typer.Option(
            None, "--file-format", help="csv, parquet or jsonl (default: by the last extension)"
        ),
        output: OutputFormat = typer.Option(
            OutputFormat.table,
            "--format",
            "-f",
            help="Summary: table (stderr), json or csv (stdout)",
        ),
    ) -> None:
        _run(
            ctx,
            table,
            file,
            maps,
            mapping_file,
            save_mapping,
            date_format,
            default_region,
            encoding,
            delimiter,
            timezone,
            rates_file,
            create_customers,
            rejects,
            file_format,
            output,
        )

    command.__doc__ = f"Import {table.replace('_', ' ')} from FILE (see docs/import.md)."
    app.command(cli_name)(command)


for _cli_name, _table in _TABLES.items():
    _command(_cli_name, _table)
