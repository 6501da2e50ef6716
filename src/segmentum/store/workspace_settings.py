"""Workspace settings persisted in the app store as one JSON document."""

from __future__ import annotations

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.store.database import AppStore

_KEY = "workspace"


def load_settings(store: AppStore) -> WorkspaceSettings:
    raw = store.scalar("SELECT value FROM app_settings WHERE key = ?", (_KEY,))
    if raw is None:
        return WorkspaceSettings()
    return WorkspaceSettings.model_validate_json(raw)


def save_settings(store: AppStore, settings: WorkspaceSettings) -> None:
    with store.transaction():
        store.execute("DELETE FROM app_settings WHERE key = ?", (_KEY,))
        store.execute("INSERT INTO app_settings VALUES (?, ?)", (_KEY, settings.model_dump_json()))
