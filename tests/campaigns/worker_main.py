"""A worker process for the fault tests: `segmentum worker --until-idle` without the CLI shell
(so the fault tests depend only on the service layer)."""

from __future__ import annotations

import sys

from segmentum.service.campaigns import run_worker
from segmentum.service.workspace import Workspace


def main() -> None:
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else None
    ws = Workspace.open()
    try:
        report = run_worker(ws, until_idle=True, poll_seconds=0.05, batch_size=batch)
        sys.stderr.write(f"{report}\n")
    finally:
        ws.close()
        if ws.store.connection is not ws.engine.backend.con:  # type: ignore[attr-defined]
            ws.store.connection.close()


if __name__ == "__main__":
    main()
