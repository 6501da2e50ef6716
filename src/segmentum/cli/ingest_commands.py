"""`segmentum ingest [FILE|-]`: Segment-style messages as JSON lines, as the intake takes them.

The intake is imported inside the command, so that `--help` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from segmentum.cli.context import workspace
from segmentum.cli.options import FormatOption
from segmentum.cli.output import OutputFormat, emit_document, err_console

#: The intake's batch limit (``ingest.messages``, which the CLI may not import and which loads
#: Arrow), copied for the help; tests/cli/test_cli_start.py checks the copy.
MAX_BATCH_MESSAGES = 2500


def ingest(
    ctx: typer.Context,
    file: str = typer.Argument("-", help="A JSON-lines file, or - for stdin."),
    chunk: int = typer.Option(
        MAX_BATCH_MESSAGES, "--chunk", min=1, help="Messages per transaction."
    ),
    default_region: str | None = typer.Option(
        None, "--default-region", help="Phone region for national numbers in traits, e.g. CZ."
    ),
    encoding: str = typer.Option(
        "utf-8", "--encoding", help="The file's encoding, e.g. cp1251 (default UTF-8)."
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """Ingest identify / track / page / subscription messages, one JSON object per line (a
    line may also be a {"batch": [...]} body): the same mapping, validation, idempotency
    (messageId) and quarantine as POST /v1/batch. A message's receivedAt, when present, is its
    receipt for the clock-skew correction. A file that is not valid in --encoding stops before
    anything is ingested (stdin: at the first bad line, after the lines before it)."""
    from segmentum.service.intake import check_encoding, ingest_lines

    ws = workspace(ctx)
    if file == "-":
        summary = ingest_lines(ws, sys.stdin.buffer, source="stdin", chunk=chunk,
                               default_region=default_region, encoding=encoding)  # fmt: skip
    else:
        path = Path(file)
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}")
        check_encoding(path, encoding)
        with path.open("rb") as handle:
            summary = ingest_lines(ws, handle, source=f"file:{path.name}", chunk=chunk,
                                   default_region=default_region, encoding=encoding)  # fmt: skip
    document = summary.as_dict()
    if output is OutputFormat.table:
        document.pop("rejected_messages")
        for item in summary.rejected[:20]:
            err_console.print(f"line {item['line']}: rejected: {item['detail']}")
        if len(summary.rejected) > 20:
            err_console.print(f"... and {len(summary.rejected) - 20} more (see the quarantine)")
    emit_document(document, output)
