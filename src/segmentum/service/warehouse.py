"""Warehouse mode use cases: which catalog tables are mapped, and the mapping check.

The mapping lives in the workspace settings (``table_mappings``, docs/warehouse.md); these use
cases report it and validate it against the live schema of the data engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from segmentum.engine.check import MappingProblem, check_mapping
from segmentum.service.workspace import Workspace


@dataclass(frozen=True)
class CheckReport:
    engine: str
    #: One row per catalog table: where it is read from.
    tables: list[dict[str, Any]]
    problems: list[MappingProblem] = field(default_factory=list)
    data_checked: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "engine": self.engine,
            "data_checked": self.data_checked,
            "tables": self.tables,
            "problems": [problem.as_dict() for problem in self.problems],
        }


def table_sources(ws: Workspace) -> list[dict[str, Any]]:
    """Every catalog table with its source: Segmentum's own table or the mapped one."""
    mappings = ws.settings.table_mappings
    rows = []
    for name in ws.catalog.tables:
        mapping = mappings.get(name)
        rows.append(
            {
                "table": name,
                "mapped": mapping is not None,
                "source": mapping.describe_source() if mapping else name,
                "renamed": (
                    {
                        column: source
                        for column, source in mapping.columns.items()
                        if source != column
                    }
                    if mapping
                    else {}
                ),
            }
        )
    return rows


def check_workspace(ws: Workspace, *, data: bool = True) -> CheckReport:
    """Compare the mapping with the live schema; ``data`` also counts NULL and duplicate keys.

    Reports every problem at once and evaluates no segment."""
    problems = check_mapping(ws.engine, ws.catalog, ws.settings, data=data)
    return CheckReport(ws.engine.url, table_sources(ws), problems, data)
