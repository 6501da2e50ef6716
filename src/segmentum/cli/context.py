"""What every command shares: where the workspace lives, opened lazily once."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer

from segmentum.service.workspace import Workspace


@dataclass
class CliState:
    db: str | None = None
    app_db: str | None = None
    _workspace: Workspace | None = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        if self._workspace is None:
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
