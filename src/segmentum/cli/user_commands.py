"""`segmentum users create|list|disable`: web users of `segmentum serve` and their roles.

The use cases are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

import os

import typer

from segmentum.cli.context import workspace
from segmentum.cli.options import FormatOption
from segmentum.cli.output import OutputFormat, emit, err_console

app = typer.Typer(help="Web users (roles viewer, marketer, admin).", no_args_is_help=True)
COLUMNS = ("username", "role", "disabled", "created_at", "last_login_at")
PASSWORD_ENV = "SEGMENTUM_PASSWORD"  # noqa: S105 (a variable name)


@app.command("create")
def create(
    ctx: typer.Context,
    username: str = typer.Argument(help="Lowercase user name (letters, digits, _ . @ -)"),
    role: str = typer.Option("viewer", "--role", help="viewer, marketer or admin"),
) -> None:
    """Create a web user; the password is asked for (or read from SEGMENTUM_PASSWORD)."""
    from segmentum.service import audit, users

    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    ws = workspace(ctx)
    users.create_user(ws, username, password, role)
    audit.record(ws, "cli", "create", "user", username, {"role": role})
    err_console.print(f"created {role} {username}")


@app.command("list")
def list_users(ctx: typer.Context, output: OutputFormat = FormatOption) -> None:
    """Every web user with role, state and last login."""
    from segmentum.service import users

    emit(users.list_users(workspace(ctx)), COLUMNS, output, title="Users")


@app.command("disable")
def disable(ctx: typer.Context, username: str = typer.Argument(help="The user to disable")) -> None:
    """Disable a user: they cannot log in and their sessions end at once."""
    from segmentum.service import audit, users

    ws = workspace(ctx)
    users.disable_user(ws, username)
    audit.record(ws, "cli", "disable", "user", username)
    err_console.print(f"disabled {username}")
