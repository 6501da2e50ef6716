"""GDPR commands on customers: `customers forget ID` and `customers export ID`.

The use cases are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from segmentum.cli.context import workspace
from segmentum.cli.output import _plain, err_console

OutputOption = typer.Option(None, "--output", "-o", help="File (default stdout).")


def forget(
    ctx: typer.Context,
    customer_id: str = typer.Argument(help="The customer's id"),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase a customer's personal data everywhere (hashed suppression entries stay)."""
    from segmentum.service.consent import forget_customer

    if not yes:
        typer.confirm(f"erase customer {customer_id} for good?", abort=True)
    result = forget_customer(workspace(ctx), customer_id)
    err_console.print(f"erased {customer_id}; kept records now carry {result['token']}")
    if result["erase_in_warehouse"]:
        tables = ", ".join(result["erase_in_warehouse"])
        err_console.print(
            f"[yellow]{tables} are your warehouse's tables (mapped): erase {customer_id} there"
        )


def export(
    ctx: typer.Context,
    customer_id: str = typer.Argument(help="The customer's id"),
    output: Path | None = OutputOption,
) -> None:
    """Write everything held about a customer as JSON."""
    from segmentum.service.consent import export_customer

    document = json.dumps(_plain(export_customer(workspace(ctx), customer_id)),
                          ensure_ascii=False, indent=2, default=str)  # fmt: skip
    if output is None:
        sys.stdout.write(document + "\n")
    else:
        output.write_text(document + "\n", encoding="utf-8")
        err_console.print(f"wrote {output}")
