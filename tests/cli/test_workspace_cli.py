"""CLI conventions on the workspace commands: data on stdout, one-line errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.runner import run


def test_settings_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert run(db, "workspace", "set", "timezone", "Europe/Prague").returncode == 0
    assert run(db, "workspace", "set", "lifecycle.active_days", "45").returncode == 0
    shown = run(db, "workspace", "show", "--format", "json")
    assert shown.returncode == 0
    settings = json.loads(shown.stdout)
    assert settings["timezone"] == "Europe/Prague"
    assert settings["lifecycle"]["active_days"] == 45
    assert settings["currency"] == "EUR"


def test_bad_setting_is_one_line_error(tmp_path: Path) -> None:
    result = run(tmp_path / "w.duckdb", "workspace", "set", "timezone", "Mars/Base")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: invalid settings: timezone: Value error, unknown IANA time zone 'Mars/Base'\n"
    )


def test_unknown_setting(tmp_path: Path) -> None:
    result = run(tmp_path / "w.duckdb", "workspace", "set", "nope.deeper", "1")
    assert result.returncode == 1
    assert result.stderr == "error: unknown setting 'nope.deeper'\n"


def test_settings_import_yaml(tmp_path: Path) -> None:
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(
        "timezone: Europe/Warsaw\ncurrency: PLN\ncustomer_attributes:\n  has_children: bool\n",
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    assert run(db, "workspace", "import", str(settings_file)).returncode == 0
    settings = json.loads(run(db, "workspace", "show", "--format", "json").stdout)
    assert (settings["timezone"], settings["currency"]) == ("Europe/Warsaw", "PLN")
    assert settings["customer_attributes"] == {"has_children": "bool"}
