"""`segmentum serve`: the HTTP server (webhooks, campaign status) with the worker embedded.

uvicorn and the server settings are imported when the server starts, so that `--help` starts
fast.
"""

from __future__ import annotations

import os

import typer

from segmentum.cli.context import CliState
from segmentum.cli.output import err_console

#: The app factory, by import string (the CLI does not import the HTTP interface).
APP_FACTORY = "segmentum.api.app:create_app"


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Do not run the delivery worker inside the server."
    ),
    poll: float = typer.Option(1.0, "--poll", min=0.01, help="Worker's idle poll, seconds."),
) -> None:
    """Serve the webhooks (delivery receipts, inbound replies, bounces, one-click unsubscribe)
    and campaign status; the worker runs inside unless --no-worker. The server holds the
    workspace while it runs (a DuckDB file has one writing process)."""
    state = ctx.find_root().obj
    assert isinstance(state, CliState)
    run_server(state, host, port, worker=not no_worker, poll=poll)


def run_server(state: CliState, host: str, port: int, worker: bool, poll: float = 1.0) -> None:
    """Start uvicorn on the app factory; the CLI's own workspace handle is closed first."""
    import uvicorn

    from segmentum.service.realtime import server_checkpoint_threshold
    from segmentum.service.server import ServerSettings

    server_checkpoint_threshold()  # a bad setting is a one-line error, not a failed start-up
    state.close()
    settings = ServerSettings(db=state.db, app_db=state.app_db, worker=worker, poll_seconds=poll)
    os.environ.update(settings.to_env())
    how = "with the worker" if worker else "without the worker"
    err_console.print(f"serving on http://{host}:{port} {how}")
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, log_level="info")
