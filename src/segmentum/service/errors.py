"""The errors a user can cause; interfaces show their message in one line and exit non-zero."""

from __future__ import annotations

from pydantic import ValidationError

from segmentum.engine.connection import EngineError
from segmentum.store.database import StoreError


class ServiceError(Exception):
    """A use case refused a request; the message says why, for the user."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception classes whose message is meant for the user (no traceback)."""
    from segmentum.compiler.errors import InvalidSegmentsError
    from segmentum.ingest.errors import IngestError

    return (
        ServiceError,
        EngineError,
        StoreError,
        IngestError,
        ValidationError,
        InvalidSegmentsError,
    )
