"""Exchange rates from a file: CSV (``currency,rate``) or YAML (``{CZK: 0.04}``)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from segmentum.ingest.errors import IngestError


def _entry(path: Path, code: object, rate: object) -> tuple[str, Decimal]:
    text = str(code).strip().upper()
    try:
        value = Decimal(str(rate).strip())
    except InvalidOperation as error:
        raise IngestError(f"{path}: rate for {text!r} is not a number: {rate!r}") from error
    if not re.fullmatch(r"[A-Z]{3}", text) or not value.is_finite() or value <= 0:
        raise IngestError(f"{path}: rate for {text!r} must be a positive number keyed by ISO code")
    return text, value


def load_rates(path: Path) -> dict[str, Decimal]:
    """Units of the workspace currency per one unit of each listed currency."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise IngestError(f"cannot read rates file {path}: {error}") from error
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise IngestError(f"{path}: {error}") from error
        if not isinstance(data, dict):
            raise IngestError(f"{path}: expected a mapping of currency: rate")
        return dict(_entry(path, code, rate) for code, rate in data.items())
    rates: dict[str, Decimal] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise IngestError(f"{path}: expected two columns currency,rate; got {row!r}")
        if row[0].strip().lower() == "currency":
            continue
        code, rate = _entry(path, row[0], row[1])
        rates[code] = rate
    return rates
