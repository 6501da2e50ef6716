"""`segmentum ... --help` starts fast: it loads no engine, data or web stack.

Each check runs in a fresh interpreter (this one has the engine loaded already by the
fixtures). No timings here: what is imported is what decides the start-up time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import typer.main

from segmentum.cli import (
    clv_commands,
    customer_commands,
    demo_commands,
    ingest_commands,
)
from segmentum.cli.app import app, main
from segmentum.service import clv, customers, demo, intake
from segmentum.service.errors import ServiceError

HEAVY = ("ibis", "duckdb", "pyarrow", "pandas", "fastapi", "uvicorn", "jinja2", "plotly")

#: Prints, as JSON, the heavy packages loaded after `--help` of each command path in argv
#: (one JSON list of words per path; "*" for every group and command of the tree).
HELP_SCRIPT = textwrap.dedent(
    """
    import contextlib, io, json, sys

    import typer.main

    from segmentum.cli.app import app

    HEAVY = {heavy!r}
    root = typer.main.get_command(app)

    def walk(command, path):
        yield path
        for name, sub in sorted(getattr(command, "commands", {{}}).items()):
            yield from walk(sub, [*path, name])

    paths = list(walk(root, [])) if sys.argv[1:] == ["*"] else [json.loads(sys.argv[1])]
    for path in paths:
        with contextlib.redirect_stdout(io.StringIO()) as shown:
            root.main([*path, "--help"], prog_name="segmentum", standalone_mode=False)
        assert "Usage: segmentum" in shown.getvalue(), (path, shown.getvalue())
    print(json.dumps({{"paths": len(paths), "heavy": [m for m in HEAVY if m in sys.modules]}}))
    """
).format(heavy=HEAVY)


def _help(arg: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", HELP_SCRIPT, arg], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize(
    "path",
    [
        [],
        ["workspace"],
        ["sms"],
        ["import"],
        ["segments"],
        ["clv"],
        ["demo"],
        ["customers"],
        ["campaigns"],
        ["automations"],
        ["report"],
        ["users"],
        ["keys"],
        ["lifecycle"],
        ["rfm"],
        ["stats"],
        ["worker"],
        ["serve"],
        ["ingest"],
        ["segments", "list"],
        ["segments", "members"],
        ["import", "orders"],
        ["campaigns", "report"],
        ["customers", "forget"],
        ["demo", "generate"],
        ["clv", "validate"],
        ["workspace", "prepare-realtime"],
        ["report", "segments"],
    ],
    ids=lambda path: " ".join(["segmentum", *path]),
)
def test_help_loads_nothing_heavy(path: list[str]) -> None:
    assert _help(json.dumps(path)) == {"paths": 1, "heavy": []}


def _count(command: Any) -> int:
    return 1 + sum(_count(sub) for sub in getattr(command, "commands", {}).values())


def test_help_of_every_command_loads_nothing_heavy() -> None:
    every = _count(typer.main.get_command(app))
    assert _help("*") == {"paths": every, "heavy": []}


@pytest.mark.parametrize(
    ("shown", "service_default"),
    [
        (clv_commands.DEFAULT_PERIOD, clv.DEFAULT_PERIOD),
        (clv_commands.DEFAULT_HORIZON_DAYS, clv.DEFAULT_HORIZON_DAYS),
        (clv_commands.DEFAULT_DISCOUNT_RATE, clv.DEFAULT_DISCOUNT_RATE),
        (customer_commands.DEFAULT_TIMELINE_LIMIT, customers.DEFAULT_TIMELINE_LIMIT),
        (demo_commands.DEFAULT_CUSTOMERS, demo.DEFAULT_CUSTOMERS),
        (demo_commands.DEFAULT_SEED, demo.DEFAULT_SEED),
        (ingest_commands.MAX_BATCH_MESSAGES, intake.MAX_BATCH_MESSAGES),
    ],
)
def test_help_defaults_are_the_services(shown: object, service_default: object) -> None:
    """The help shows the services' defaults (``service.defaults``; the intake's batch limit is
    a copy: it lives in ``ingest``, which the CLI may not import)."""
    assert shown == service_default


@pytest.mark.parametrize(
    ("error", "stderr"),
    [
        (ServiceError("no such\n   segment  'x'"), "error: no such segment 'x'\n"),
        (ValueError("not a user error"), None),
        (KeyError("a bug"), None),
    ],
    ids=["user error", "value error", "bug"],
)
def test_main_shows_user_errors_in_one_line_and_raises_the_rest(
    error: Exception,
    stderr: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fail() -> None:
        raise error

    monkeypatch.setattr("segmentum.cli.app.app", fail)
    if stderr is None:
        with pytest.raises(type(error)) as raised:
            main()
        assert raised.value is error
        assert capsys.readouterr().err == ""
        return
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert capsys.readouterr() == ("", stderr)
