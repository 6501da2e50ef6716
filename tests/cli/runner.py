"""`segmentum` run as a user runs it: a subprocess on a workspace file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(db: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """``segmentum --db DB ARGS``; ``check``: a non-zero exit fails with its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "segmentum", "--db", str(db), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed: {result.stderr}")
    return result
