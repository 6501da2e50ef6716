"""Generate docs/cli.md from the commands' own --help, so the reference cannot rot."""

from __future__ import annotations

import sys
from typing import Any

import typer.core
import typer.main

from segmentum.cli.app import app


def _walk(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, command)]
    subcommands = getattr(command, "commands", {})  # a group (Typer bundles its own click)
    for name in sorted(subcommands):
        found.extend(_walk(subcommands[name], [*path, name]))
    return found


def render() -> str:
    # Plain-text help (not Rich panels), identical on every terminal.
    typer.core.HAS_RICH = False
    root = typer.main.get_command(app)
    parts = [
        "# Command reference\n",
        "Generated from `--help` by `python -m segmentum.cli.reference_docs > docs/cli.md`;",
        "a test fails when this page and the commands disagree.\n",
    ]
    for path, command in _walk(root, ["segmentum"]):
        ctx = command.context_class(command, info_name=" ".join(path), terminal_width=100)
        parts.append(f"## `{' '.join(path)}`\n")
        parts.append("```text")
        parts.append(command.get_help(ctx).rstrip())
        parts.append("```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render())
