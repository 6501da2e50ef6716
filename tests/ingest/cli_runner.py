"""Runs `segmentum import ...` through the real command group, isolated from other commands.

Usage: python -m tests.ingest.cli_runner --db PATH import orders FILE [options]
"""

from __future__ import annotations

import sys

import typer

from segmentum.cli import import_commands
from segmentum.cli.context import CliState
from segmentum.service.errors import user_errors

app = typer.Typer(pretty_exceptions_enable=False)
app.add_typer(import_commands.app, name="import")


@app.callback()
def root(ctx: typer.Context, db: str = typer.Option(..., "--db")) -> None:
    state = CliState(db=db)
    ctx.obj = state
    ctx.call_on_close(state.close)


def main() -> None:
    try:
        app(standalone_mode=False)
    except user_errors() as error:
        sys.stderr.write(f"error: {' '.join(str(error).split())}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
