"""The ready-made segment library: definitions for the seed use cases, installed by name."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from segmentum.service.segments import (
    DefinitionSource,
    InvalidDefinitionError,
    create_segment,
    parse_source,
)
from segmentum.service.workspace import Workspace
from segmentum.spec.external import to_external
from segmentum.store import segments as segment_store


def library_definitions() -> list[dict[str, Any]]:
    text = resources.files("segmentum.spec").joinpath("library/segments.yaml").read_text("utf-8")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, list)
    return loaded


def install_library(ws: Workspace) -> list[dict[str, Any]]:
    """Install every library segment that fits this workspace; report the others and why.

    A segment of the same name that exists already is never replaced (``exists``; the detail
    says when it differs from the library's, e.g. edited here).

    A definition that needs a custom attribute the workspace has not declared (e.g. the
    product attribute ``gluten_free``) is skipped with its validation message.
    """
    report = []
    for entry in library_definitions():
        source = DefinitionSource(data={"where": entry["where"]})
        existing = segment_store.get_segment(ws.store, entry["name"])
        if existing is not None:  # never overwrite a segment of that name (it may be edited)
            same = existing.definition == to_external(parse_source(source).node)
            differs = "" if same else ", differs from the library's: kept (delete to reinstall)"
            detail = f"version {existing.version}{differs}"
            report.append({"name": existing.name, "status": "exists", "detail": detail})
            continue
        try:
            stored = create_segment(ws, entry["name"], source, entry.get("description", ""))
        except InvalidDefinitionError as invalid:
            report.append({"name": entry["name"], "status": "skipped", "detail": str(invalid)})
            continue
        report.append(
            {"name": stored.name, "status": "installed", "detail": f"version {stored.version}"}
        )
    return report
