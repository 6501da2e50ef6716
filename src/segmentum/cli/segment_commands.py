"""`segmentum segments ...`: define, check, preview and inspect segments.

The use cases (and pyarrow) are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from segmentum.cli.context import workspace
from segmentum.cli.options import AsOfOption, FormatOption, parse_day
from segmentum.cli.output import OutputFormat, emit, emit_batches, emit_document, err_console

if TYPE_CHECKING:
    import pyarrow as pa

    from segmentum.service.segments import DefinitionSource
    from segmentum.service.workspace import Workspace

app = typer.Typer(help="Define segments and look at who is in them.", no_args_is_help=True)

WhereOption = typer.Option(None, "--where", "-w", help="Definition as a text expression.")
FileOption = typer.Option(None, "--file", help="Definition as a YAML or JSON file.")
NameArgument = typer.Argument(help="Segment name (segmentum segments list shows them).")

#: The table format is for people: it shows at most this many members (and says so).
TABLE_ROWS = 1000
BATCH_ROWS = 50_000


def _source(where: str | None, file: Path | None) -> DefinitionSource:
    from segmentum.service.segments import DefinitionSource

    if (where is None) == (file is None):
        raise typer.BadParameter("give exactly one of --where TEXT or --file FILE")
    return DefinitionSource(text=where, file=file)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str | None = typer.Argument(
        None,
        help="Segment name: lowercase letters, digits, _. Optional with --file: the file's "
        "name: is used; if both are given they must be the same.",
    ),
    where: str | None = WhereOption,
    file: Path | None = FileOption,
    description: str | None = typer.Option(None, "--description", help="What it is for."),
) -> None:
    """Save a segment (a changed definition gets a new version)."""
    from segmentum.service import segments as service

    stored = service.create_segment(workspace(ctx), name, _source(where, file), description)
    err_console.print(f"segment {stored.name} saved (version {stored.version})")


@app.command("validate")
def validate(
    ctx: typer.Context,
    where: str | None = WhereOption,
    file: Path | None = FileOption,
    output: OutputFormat = FormatOption,
) -> None:
    """Check a definition; lists every problem with its code and path, exit 1 if any."""
    from segmentum.service import segments as service
    from segmentum.service.segments import InvalidDefinitionError

    try:
        service.validate_definition(workspace(ctx), _source(where, file))
    except InvalidDefinitionError as invalid:
        rows = [vars(issue) for issue in invalid.issues]
        emit(rows, ("code", "path", "message"), output)
        raise typer.Exit(1) from invalid
    if output is OutputFormat.table:
        err_console.print("valid")
    else:
        emit([], ("code", "path", "message"), output)


@app.command("preview")
def preview(
    ctx: typer.Context,
    where: str | None = WhereOption,
    file: Path | None = FileOption,
    as_of: str | None = AsOfOption,
    sample: int = typer.Option(10, "--sample", help="How many member ids to show."),
    output: OutputFormat = FormatOption,
) -> None:
    """Count and sample the members of a definition without saving it."""
    from segmentum.service import segments as service

    result = service.preview(workspace(ctx), _source(where, file), parse_day(as_of), sample)
    emit_document(
        {
            "count": result.count,
            "sample": result.sample,
            "sentence": result.sentence,
            "as_of": result.as_of,
        },
        output,
    )


@app.command("list")
def list_(
    ctx: typer.Context, as_of: str | None = AsOfOption, output: OutputFormat = FormatOption
) -> None:
    """Every segment with its size (all evaluated in one pass) and its sentence."""
    from segmentum.service import segments as service

    rows = service.list_segments(workspace(ctx), parse_day(as_of))
    emit(rows, ("name", "version", "size", "sentence"), output)


@app.command("show")
def show(ctx: typer.Context, name: str = NameArgument, output: OutputFormat = FormatOption) -> None:
    """A segment's definition, text form and sentence."""
    from segmentum.service import segments as service

    emit_document(service.show_segment(workspace(ctx), name), output)


@app.command("members")
def members(
    ctx: typer.Context,
    name: str = NameArgument,
    as_of: str | None = AsOfOption,
    columns: str = typer.Option("", "--columns", help="Extra customer columns, comma-separated."),
    at: str | None = typer.Option(
        None,
        "--at",
        help="Who was a member at the end of this day (today or earlier) in the workspace "
        "timezone, from the membership log; customer ids only (no --columns, no --as-of).",
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """The customers in a segment now (evaluated), at --as-of, or at a past day (--at).

    CSV cells that look like spreadsheet formulas are neutralised (as in `export`); the table
    shows the first 1,000 members (csv and json list all)."""
    chosen = tuple(c.strip() for c in columns.split(",") if c.strip())
    if at is not None:
        _members_at(workspace(ctx), name, at, as_of, chosen, output)
        return
    from segmentum.service import segments as service

    table = service.members(workspace(ctx), name, parse_day(as_of), chosen)
    names = ("customer_id", *chosen)
    _emit_members(table.to_pyarrow_batches(chunk_size=BATCH_ROWS), names, output)


def _members_at(
    ws: Workspace,
    name: str,
    at: str,
    as_of: str | None,
    columns: tuple[str, ...],
    output: OutputFormat,
) -> None:
    """``members --at DAY``: the ids the membership log holds at the end of ``DAY``."""
    import pyarrow as pa

    from segmentum.service import membership
    from segmentum.service.errors import ServiceError

    if as_of is not None:
        raise ServiceError(
            "give --at DAY (members from the log) or --as-of DAY (evaluated now), not both"
        )
    if columns:
        raise ServiceError(
            "--columns cannot be used with --at: the membership log holds customer ids only"
        )
    day = parse_day(at)
    assert day is not None
    ids = membership.members_at(ws, name, day)
    if not ids:
        _note_empty_log(ws, name, day)
    rows = pa.table({"customer_id": pa.array(ids, type=pa.string())})
    _emit_members(rows.to_batches(max_chunksize=BATCH_ROWS), ("customer_id",), output)


def _note_empty_log(ws: Workspace, name: str, day: date) -> None:
    """Say on stderr when the segment's log has no entry at or before the end of ``day``: the
    empty list may then mean "not refreshed by then" rather than "no members"."""
    from segmentum.service import membership

    why = membership.empty_log_reason(ws, name, day)
    if why is None:
        return
    err_console.print(
        f"note: the membership log of {name} has nothing at or before {day.isoformat()} ({why})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _emit_members(
    batches: Iterable[pa.RecordBatch], columns: Sequence[str], output: OutputFormat
) -> None:
    """Members to stdout: the table shows the first ``TABLE_ROWS`` and notes the total on
    stderr; CSV cells are neutralised like ``segments export`` does; JSON is as it is."""
    if output is OutputFormat.table:
        shown: list[dict[str, Any]] = []
        total = 0
        for batch in batches:
            if len(shown) < TABLE_ROWS:
                shown.extend(batch.slice(0, TABLE_ROWS - len(shown)).to_pylist())
            total += batch.num_rows
        emit(shown, columns, output)
        if total > len(shown):
            err_console.print(
                f"showing {len(shown):,} of {total:,} members; use --format csv or json for all",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        return
    if output is OutputFormat.csv:
        emit_batches(_neutralised(batches), columns, output)
        return
    emit_batches((batch.to_pylist() for batch in batches), columns, output)


def _neutralised(batches: Iterable[pa.RecordBatch]) -> Iterator[Sequence[Mapping[str, Any]]]:
    """Each batch's rows with formula-like text cells neutralised by the service's rule."""
    import pyarrow as pa

    from segmentum.service import membership

    for batch in batches:
        table = membership.neutralise_formulas(pa.Table.from_batches([batch]))
        yield table.to_pylist()


@app.command("explain")
def explain(
    ctx: typer.Context,
    name: str = NameArgument,
    customer: str = typer.Option(..., "--customer", help="Customer id."),
    as_of: str | None = AsOfOption,
    output: OutputFormat = FormatOption,
) -> None:
    """Each condition's value for one customer: why they are (not) in the segment."""
    from segmentum.service import segments as service

    rows = service.explain(workspace(ctx), name, customer, parse_day(as_of))
    emit(rows, ("condition", "value"), output)


@app.command("sql")
def sql(
    ctx: typer.Context,
    name: str = NameArgument,
    dialect: str = typer.Option("duckdb", "--dialect", help="duckdb, postgres or pyspark."),
    as_of: str | None = AsOfOption,
) -> None:
    """Print the SQL the segment compiles to (values appear as escaped literals), as of now
    or the end of --as-of in the workspace timezone."""
    from segmentum.service import segments as service

    if dialect not in ("duckdb", "postgres", "pyspark"):
        raise typer.BadParameter("dialect must be duckdb, postgres or pyspark")
    typer.echo(service.segment_sql(workspace(ctx), name, dialect, parse_day(as_of)))


@app.command("delete")
def delete(ctx: typer.Context, name: str = NameArgument) -> None:
    """Remove a segment definition."""
    from segmentum.service import segments as service

    service.delete_segment(workspace(ctx), name)
    err_console.print(f"segment {name} deleted")


@app.command("upload-list")
def upload_list(
    ctx: typer.Context,
    list_name: str = typer.Argument(help="Name used by manual_list conditions."),
    file: Path = typer.Argument(help="CSV or text file: one customer_id per line."),
) -> None:
    """Upload a static list of customers (replaces the list of that name)."""
    from segmentum.service import segments as service

    stored = service.upload_manual_list(workspace(ctx), list_name, file)
    noun = "customer" if stored.customers == 1 else "customers"
    err_console.print(f"list {list_name}: {stored.customers} {noun}", markup=False)
    if stored.unknown:
        more = ", ..." if stored.unknown > len(stored.unknown_sample) else ""
        err_console.print(
            f"warning: {stored.unknown} {'id names' if stored.unknown == 1 else 'ids name'} "
            "no customer (yet): "
            f"{', '.join(stored.unknown_sample)}{more}",
            markup=False,
        )


@app.command("refresh")
def refresh(
    ctx: typer.Context, as_of: str | None = AsOfOption, output: OutputFormat = FormatOption
) -> None:
    """Evaluate every segment in one pass; store members and log who entered and exited."""
    from segmentum.service import membership

    rows = membership.refresh_segments(workspace(ctx), parse_day(as_of))
    emit(rows, ("segment", "version", "size", "entered", "exited"), output)


@app.command("history")
def history(
    ctx: typer.Context, name: str = NameArgument, output: OutputFormat = FormatOption
) -> None:
    """Size over time from the membership log."""
    from segmentum.service import membership

    rows = membership.segment_history(workspace(ctx), name)
    emit(rows, ("effective_at", "version", "size", "entered", "exited"), output)


@app.command("export")
def export(
    ctx: typer.Context,
    name: str = NameArgument,
    file: Path = typer.Argument(help="Output .csv or .parquet file."),
    columns: str = typer.Option("", "--columns", help="Customer columns, comma-separated."),
    as_of: str | None = AsOfOption,
) -> None:
    """Write the members with chosen columns; CSV cells that look like formulas are neutralised."""
    from segmentum.service import membership

    chosen = tuple(c.strip() for c in columns.split(",") if c.strip())
    count = membership.export_members(workspace(ctx), name, file, chosen, parse_day(as_of))
    err_console.print(f"{count} members written to {file}")


@app.command("install-library")
def install_library(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Add the ready-made segments (lifecycle stages, RFM groups, abandoned cart, ...)."""
    from segmentum.service import library

    rows = library.install_library(workspace(ctx))
    emit(rows, ("name", "status", "detail"), output)
