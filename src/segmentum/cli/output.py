"""Writing listings: data to stdout as a table, CSV (header row) or a JSON array of objects.

Table cells and column names are Rich `Text`, never markup: a message body such as
``Sleva [kód] 20 %`` prints as it is (a plain string cell would lose ``[kód]`` as a style tag).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

#: Rich output meant for people (progress, summaries, warnings) goes to stderr.
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def emit(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    output: OutputFormat,
    title: str | None = None,
) -> None:
    if output is OutputFormat.json:
        data = [{column: _plain(row.get(column)) for column in columns} for row in rows]
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=None) + "\n")
    elif output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
    else:
        table = Table(title=title, show_lines=False)
        for column in columns:
            table.add_column(Text(column))
        for row in rows:
            table.add_row(*(Text(_cell(row.get(column))) for column in columns))
        Console().print(table)


def emit_document(document: Mapping[str, Any], output: OutputFormat) -> None:
    """A single object (a summary): JSON object with --format json, else a two-column table."""
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(_plain(document), ensure_ascii=False) + "\n")
        return
    rows = [{"field": key, "value": _cell(value)} for key, value in document.items()]
    emit(rows, ("field", "value"), output)


def emit_batches(
    batches: Iterable[Sequence[Mapping[str, Any]]], columns: Sequence[str], output: OutputFormat
) -> None:
    """Stream a long listing batch by batch: CSV with one header, JSON as one array."""
    if output is OutputFormat.table:
        rows = [row for batch in batches for row in batch]
        emit(rows, columns, output)
        return
    if output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for batch in batches:
            for row in batch:
                writer.writerow([_cell(row.get(column)) for column in columns])
        return
    sys.stdout.write("[")
    first = True
    for batch in batches:
        for row in batch:
            item = {column: _plain(row.get(column)) for column in columns}
            sys.stdout.write(("" if first else ",") + json.dumps(item, ensure_ascii=False))
            first = False
    sys.stdout.write("]\n")
