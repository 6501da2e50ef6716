"""What every command shares: where the workspace lives, opened lazily once.

The workspace (and with it the engine: ibis, DuckDB) is imported only when a command opens
it, so that ``--help`` starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from segmentum.service.workspace import Workspace


@dataclass
class CliState:
    db: str | None = None
    app_db: str | None = None
    _workspace: Workspace | None = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        if self._workspace is None:
            from segmentum.service.workspace import Workspace

            self._workspace = Workspace.open(self.db, self.app_db)
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None


def workspace(ctx: typer.Context) -> Workspace:
    state = ctx.find_root().obj
    assert isinstance(state, CliState)
    return state.workspace()
