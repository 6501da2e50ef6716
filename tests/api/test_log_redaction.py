"""Secrets and phone numbers never reach a log, also inside a logged traceback."""

from __future__ import annotations

import io
import logging

import pytest

from segmentum.service.keys import REDACTED, KeyRedactingFilter

KEY = "sgm_0123456789ab_" + "A" * 43
PHONE = "+420601123456"


def _logged(emit: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(KeyRedactingFilter())
    logger = logging.getLogger("segmentum.test_log_redaction")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        emit(logger)  # type: ignore[operator]
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def _raise_and_log(logger: logging.Logger, text: str) -> None:
    try:
        raise ValueError(text)
    except ValueError:
        logger.exception("cannot map message %d", 3)


@pytest.mark.parametrize(
    ("error_text", "kept"),
    [
        (f"invalid phone {PHONE!r}", "ValueError: invalid phone '[redacted]'"),
        (f"bad key {KEY}", "ValueError: bad key [redacted]"),
        ("Basic c2VjcmV0OnBhc3M= refused", "ValueError: Basic [redacted] refused"),
        ("nothing secret", "ValueError: nothing secret"),
    ],
)
def test_a_logged_traceback_is_redacted(error_text: str, kept: str) -> None:
    out = _logged(lambda logger: _raise_and_log(logger, error_text))
    assert out.startswith("ERROR cannot map message 3\nTraceback (most recent call last):")
    assert out.rstrip().endswith(kept)
    for secret in (PHONE, KEY, "c2VjcmV0OnBhc3M="):
        assert secret not in out


def test_stack_info_is_redacted() -> None:
    out = _logged(lambda logger: logger.warning("customer %s", PHONE, stack_info=True))
    assert out.startswith(f"WARNING customer {REDACTED}\nStack (most recent call last):")
    assert PHONE not in out
