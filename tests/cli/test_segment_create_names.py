"""`segments create [NAME] --file def.yaml`: the segment's name comes from NAME or the file's
``name:``; both given and different is refused with both names, never one silently dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segmentum.service import segments as service
from segmentum.service.errors import ServiceError
from segmentum.service.segments import DefinitionSource
from segmentum.service.workspace import Workspace
from tests.cli.runner import run

NAMED = "name: big_spenders\ndescription: Spent a lot\nwhere: 'has_tag(\"vip\")'\n"
UNNAMED = "where: 'has_tag(\"vip\")'\n"


@pytest.mark.parametrize(
    ("given", "document", "saved"),
    [
        pytest.param(None, NAMED, "big_spenders", id="no-name-given-the-files-is-used"),
        pytest.param("big_spenders", NAMED, "big_spenders", id="the-same-name-twice"),
        pytest.param("vip", UNNAMED, "vip", id="a-file-without-a-name"),
    ],
)
def test_the_name_comes_from_the_command_or_the_file(
    workspace: Workspace, tmp_path: Path, given: str | None, document: str, saved: str
) -> None:
    path = tmp_path / "def.yaml"
    path.write_text(document, encoding="utf-8")
    stored = service.create_segment(workspace, given, DefinitionSource(file=path))
    assert [s["name"] for s in service.list_segments(workspace)] == [saved]
    assert (stored.name, stored.version) == (saved, 1)


@pytest.mark.parametrize(
    ("given", "document", "message"),
    [
        pytest.param(
            "vip",
            NAMED,
            "two names for one segment: 'vip' given, name: big_spenders in {file}; give the "
            "same name, or leave NAME out to use the file's",
            id="two-different-names",
        ),
        pytest.param(
            None,
            UNNAMED,
            "give the segment a name: segmentum segments create NAME --file {file}, or a name: "
            "line in {file}",
            id="no-name-anywhere",
        ),
        pytest.param(
            None,
            "name: 42\nwhere: 'has_tag(\"vip\")'\n",
            "name: must be text, got 42",
            id="a-name-that-is-not-text",
        ),
        pytest.param(
            None,
            "name: Big Spenders\nwhere: 'has_tag(\"vip\")'\n",
            "segment name 'Big Spenders' must be lowercase letters, digits and _ (start with a "
            "letter)",
            id="the-files-name-is-checked-too",
        ),
    ],
)
def test_a_missing_or_conflicting_name_is_refused(
    workspace: Workspace, tmp_path: Path, given: str | None, document: str, message: str
) -> None:
    path = tmp_path / "def.yaml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(ServiceError) as caught:
        service.create_segment(workspace, given, DefinitionSource(file=path))
    assert str(caught.value) == message.format(file=path)
    assert service.list_segments(workspace) == []


def test_text_without_a_name_is_refused(workspace: Workspace) -> None:
    with pytest.raises(ServiceError) as caught:
        service.create_segment(workspace, None, DefinitionSource(text='has_tag("vip")'))
    assert (
        str(caught.value) == "give the segment a name: segmentum segments create NAME --where TEXT"
    )


@pytest.mark.parametrize(
    ("args", "code", "stderr", "listed"),
    [
        pytest.param(
            ["vip", "--file", "{file}"],
            1,
            "error: two names for one segment: 'vip' given, name: big_spenders in {file}; give "
            "the same name, or leave NAME out to use the file's\n",
            [],
            id="two-different-names",
        ),
        pytest.param(
            ["--file", "{file}"],
            0,
            "segment big_spenders saved (version 1)\n",
            ["big_spenders"],
            id="the-files-name",
        ),
        pytest.param(
            ["--where", 'has_tag("vip")'],
            1,
            "error: give the segment a name: segmentum segments create NAME --where TEXT\n",
            [],
            id="text-needs-a-name",
        ),
    ],
)
def test_the_cli(
    tmp_path: Path, args: list[str], code: int, stderr: str, listed: list[str]
) -> None:
    db = tmp_path / "w.duckdb"
    path = tmp_path / "def.yaml"
    path.write_text(NAMED, encoding="utf-8")
    arguments = [arg.format(file=path) for arg in args]
    result = run(db, "segments", "create", *arguments)
    assert (result.returncode, result.stdout, result.stderr) == (
        code,
        "",
        stderr.format(file=path),
    )
    rows = json.loads(run(db, "segments", "list", "--format", "json", check=True).stdout)
    assert [row["name"] for row in rows] == listed
