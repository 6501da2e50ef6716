"""Import failures that stop an import before anything is loaded."""

from __future__ import annotations


class IngestError(Exception):
    """The file cannot be imported at all (unreadable, wrong encoding, unknown table...)."""
