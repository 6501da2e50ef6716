"""Segment definitions: versions bump only when the definition changes; old versions are kept."""

from __future__ import annotations

from datetime import UTC, datetime

from segmentum.service.workspace import Workspace
from segmentum.store.migrations import MIGRATIONS, migrate
from segmentum.store.segments import get_segment, list_segments, save_segment

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def test_versions(workspace: Workspace) -> None:
    store = workspace.store
    first = save_segment(store, "vip", {"has_tag": "vip"}, "VIPs", NOW)
    same = save_segment(store, "vip", {"has_tag": "vip"}, "VIPs", NOW)
    described = save_segment(store, "vip", {"has_tag": "vip"}, "Very important", NOW)
    changed = save_segment(store, "vip", {"has_tag": "gold"}, "Very important", NOW)
    assert (first.version, same.version, described.version, changed.version) == (1, 1, 1, 2)
    stored = get_segment(store, "vip")
    assert stored is not None
    assert stored.definition == {"has_tag": "gold"}
    versions = store.query("SELECT version, definition FROM segment_versions ORDER BY version")
    assert [(v["version"], v["definition"]) for v in versions] == [
        (1, '{"has_tag":"vip"}'),
        (2, '{"has_tag":"gold"}'),
    ]
    assert [s.name for s in list_segments(store)] == ["vip"]


def test_migrations_run_once(workspace: Workspace) -> None:
    assert migrate(workspace.store) == []
    applied = workspace.store.query("SELECT version FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in applied] == [number for number, _, _ in MIGRATIONS]
