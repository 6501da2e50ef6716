"""The segment compiler: validate → inline references → rewrite → lower to one Ibis expression.

It imports catalog, spec and Ibis only; it connects to nothing and reads no clock (``as_of`` is
passed in). See docs/compiler.md.
"""

from segmentum.compiler.errors import InvalidSegmentsError, SemanticIssue, UnsupportedError
from segmentum.compiler.program import (
    compile_customer_metrics,
    compile_explain,
    compile_lifecycle,
    compile_rfm,
    compile_segments,
)
from segmentum.compiler.validate import validate

__all__ = [
    "InvalidSegmentsError",
    "SemanticIssue",
    "UnsupportedError",
    "compile_customer_metrics",
    "compile_explain",
    "compile_lifecycle",
    "compile_rfm",
    "compile_segments",
    "validate",
]
