"""Column mappings (target column -> source column) from --map options and mapping files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from segmentum.ingest.errors import IngestError

#: Options a mapping file may carry besides the column map.
MAPPING_FILE_OPTIONS = ("date_format", "default_region", "encoding", "delimiter", "timezone")


def parse_map_options(items: Iterable[str]) -> dict[str, str]:
    """``["email=E-mail", ...]`` as a mapping; raises IngestError on a malformed item."""
    mapping: dict[str, str] = {}
    for item in items:
        target, sep, source = item.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise IngestError(f"--map {item!r}: expected TARGET=SOURCE, e.g. email=E-mail")
        mapping[target.strip()] = source.strip()
    return mapping


def load_mapping_file(path: Path) -> dict[str, Any]:
    """A YAML mapping file: ``{table, columns: {target: source}, date_format, ...}``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise IngestError(f"cannot read mapping file {path}: {error}") from error
    if not isinstance(data, dict):
        raise IngestError(f"{path}: a mapping file must be a YAML mapping")
    columns = data.get("columns", {})
    if not isinstance(columns, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in columns.items()
    ):
        raise IngestError(f"{path}: 'columns' must map target column names to source names")
    unknown = set(data) - {"table", "columns", *MAPPING_FILE_OPTIONS}
    if unknown:
        raise IngestError(f"{path}: unknown keys {', '.join(sorted(unknown))}")
    return data


def save_mapping_file(
    path: Path, table: str, columns: Mapping[str, str], options: Mapping[str, str | None]
) -> None:
    data: dict[str, Any] = {"table": table, "columns": dict(columns)}
    data.update({key: value for key, value in options.items() if value is not None})
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
