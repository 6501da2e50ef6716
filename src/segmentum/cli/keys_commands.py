"""`segmentum keys create|list|revoke`: API keys (stored only as hashes).

The use cases are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum

import typer

from segmentum.cli.context import workspace
from segmentum.cli.options import FormatOption
from segmentum.cli.output import OutputFormat, emit, err_console

app = typer.Typer(
    help=(
        "API keys for the HTTP server. An ingest key is the write key of the event intake "
        "(HTTP Basic username); other keys go in 'Authorization: Bearer <key>'. Only hashes "
        "are stored: a key is shown once, when it is created."
    ),
    no_args_is_help=True,
)


class Scope(StrEnum):
    read = "read"
    ingest = "ingest"
    marketer = "marketer"
    admin = "admin"


@app.command("create")
def create(
    ctx: typer.Context,
    scope: Scope = typer.Option(
        ..., "--scope", help="read, ingest (the intake's write key), marketer or admin."
    ),
    name: str | None = typer.Option(None, "--name", help="A label to recognise the key by."),
) -> None:
    """Create a key and print it once on stdout (its id and scope go to stderr)."""
    from segmentum.service import keys

    created = keys.create_key(workspace(ctx), scope.value, name)
    err_console.print(
        f"created {created.scope} key {created.key_id}"
        + (f" ({created.name})" if created.name else "")
        + "; store it now, it is not shown again"
    )
    sys.stdout.write(created.key + "\n")


@app.command("list")
def list_keys(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Every key's id, name, scope, creation and revocation (never the key or its hash)."""
    from segmentum.service import keys

    rows = keys.list_keys(workspace(ctx))
    emit(rows, ("key_id", "name", "scope", "created_at", "revoked_at"), output, "API keys")


@app.command("revoke")
def revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="The key's id.")) -> None:
    """Revoke a key: it answers 401 from then on (a running server notices within seconds)."""
    from segmentum.service import keys

    keys.revoke_key(workspace(ctx), key_id)
    err_console.print(f"revoked key {key_id}")
