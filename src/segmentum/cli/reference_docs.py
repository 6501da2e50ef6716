"""Generate docs/cli.md from the commands' own --help, so the reference cannot rot."""

from __future__ import annotations

import sys

import click
import typer.main

from segmentum.cli.app import app


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found.extend(_walk(command.commands[name], [*path, name]))
    return found


def render() -> str:
    root = typer.main.get_command(app)
    parts = [
        "# Command reference\n",
        "Generated from `--help` by `python -m segmentum.cli.reference_docs > docs/cli.md`;",
        "a test fails when this page and the commands disagree.\n",
    ]
    for path, command in _walk(root, ["segmentum"]):
        ctx = click.Context(command, info_name=" ".join(path), terminal_width=100)
        parts.append(f"## `{' '.join(path)}`\n")
        parts.append("```text")
        parts.append(command.get_help(ctx).rstrip())
        parts.append("```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render())
