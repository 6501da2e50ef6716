"""Use cases for workspace settings: show, set one value, import a YAML file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace


def show_settings(ws: Workspace) -> dict[str, Any]:
    return ws.settings.model_dump(mode="json")


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: {item['msg']}"
        for item in error.errors()
    )


def _apply(ws: Workspace, data: dict[str, Any]) -> WorkspaceSettings:
    try:
        settings = WorkspaceSettings.model_validate(data)
    except ValidationError as error:
        raise ServiceError(f"invalid settings: {_describe(error)}") from error
    ws.update_settings(settings)
    return settings


def set_setting(ws: Workspace, key: str, raw_value: str) -> WorkspaceSettings:
    """Set one dotted key (``lifecycle.active_days``); the value is JSON or a plain string."""
    try:
        value: Any = json.loads(raw_value)
    except json.JSONDecodeError:
        value = raw_value
    data = ws.settings.model_dump(mode="json")
    parts = key.split(".")
    target = data
    for part in parts[:-1]:
        if not isinstance(target.get(part), dict):
            raise ServiceError(f"unknown setting {key!r}")
        target = target[part]
    if parts[-1] not in target:
        raise ServiceError(f"unknown setting {key!r}")
    target[parts[-1]] = value
    return _apply(ws, data)


def import_settings(ws: Workspace, path: Path) -> WorkspaceSettings:
    """Merge a YAML file's top-level keys over the current settings."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ServiceError(f"cannot read settings file {path}: {error}") from error
    if not isinstance(loaded, dict):
        raise ServiceError(f"{path}: settings must be a mapping")
    data = ws.settings.model_dump(mode="json")
    data.update(loaded)
    return _apply(ws, data)
