"""Rendering a batch of messages: rows grouped by template, each group rendered over Arrow.

Templates are compiled once per (segment, variant, language) and rendered per value by
``segmentum.campaigns.templates.render_batch`` (sandboxed Jinja2 with output and time caps).
A row whose template fails (an undefined field, a cap) gets an error instead of a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from segmentum.campaigns.model import Content
from segmentum.campaigns.templates import (
    CompiledTemplate,
    MessageTemplate,
    TemplateError,
    TemplateLimits,
    compile_template,
    render_batch,
)

RENDER_SCHEMA = pa.schema(
    [
        ("subject", pa.string()),
        ("body", pa.string()),
        ("html", pa.string()),
        ("render_error", pa.string()),
    ]
)


def compile_content(content: Content, channel: str) -> CompiledTemplate:
    template = MessageTemplate(body=content.body, subject=content.subject, html=content.html)
    return compile_template(template, TemplateLimits.for_channel(channel))


def render_rows(
    data: pa.Table,
    key_column: str,
    contents: Mapping[str, Content],
    context_columns: list[str],
    extra: Mapping[str, Any],
    channel: str,
) -> pa.Table:
    """Render every row of ``data`` with ``contents[row[key_column]]``; same row order."""
    if data.num_rows == 0:
        return RENDER_SCHEMA.empty_table()
    parts: dict[str, list[str | None]] = {name: [None] * data.num_rows for name in
                                          RENDER_SCHEMA.names}  # fmt: skip
    keys = data.column(key_column)
    for key in pc.unique(keys).to_pylist():
        mask = pc.equal(keys, key)
        positions = pc.indices_nonzero(mask).to_pylist()
        content = contents.get(key)
        error: str | None = None if content is not None else f"no template for {key}"
        compiled = None
        if content is not None:
            try:
                compiled = compile_content(content, channel)
            except TemplateError as failure:
                error = str(failure)
        if compiled is None:
            for position in positions:
                parts["render_error"][position] = error
            continue
        group = data.filter(mask).select(context_columns)
        rendered = render_batch(compiled, group, "language", extra)
        for name, source in (("subject", "subject"), ("body", "body"), ("html", "html"),
                             ("render_error", "error")):  # fmt: skip
            target = parts[name]
            for position, value in zip(positions, rendered.column(source).to_pylist(),
                                       strict=True):  # fmt: skip
                target[position] = value
    return pa.table({name: pa.array(parts[name], pa.string()) for name in RENDER_SCHEMA.names})
