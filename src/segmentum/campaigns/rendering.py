"""Rendering a batch of messages: rows grouped by template, each group rendered over Arrow.

Templates are compiled once per (segment, variant, language) and rendered per value by
``segmentum.campaigns.templates.render_batch`` (sandboxed Jinja2 with output and time caps).
A row whose template fails (an undefined field, a cap) gets an error instead of a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmentum.campaigns.links import LinkTracking
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


#: Row columns besides the template's fields that change a rendering: the formatting locale
#: and the zone dates are shown in.
_IMPLICIT = ("language", "timezone")
_MAX_KEY_SPAN = 2**62


def distinct_key(table: pa.Table, columns: list[str]) -> pa.Array | None:
    """One int64 per row, equal exactly when the rows agree on ``columns`` (nulls included);
    None when a column is nested (struct, list) or the combinations could overflow."""
    combined: pa.Array = pa.array([0] * table.num_rows, pa.int64())
    span = 1
    for name in columns:
        column = table.column(name)
        if pa.types.is_nested(column.type):
            return None
        encoded = pc.dictionary_encode(column.combine_chunks())
        cardinality = len(encoded.dictionary) + 1
        span *= cardinality
        if span > _MAX_KEY_SPAN:
            return None
        indices = pc.fill_null(encoded.indices.cast(pa.int64()), cardinality - 1)
        combined = pc.add(pc.multiply(combined, cardinality), indices)
    return combined


def _render_distinct(
    compiled: CompiledTemplate, group: pa.Table, extra: Mapping[str, Any]
) -> pa.Table:
    """Render each distinct combination of the values the template reads once, then spread
    the results back to every row (a rendering depends only on those values, the language
    and the zone; a name or an amount repeats across thousands of customers)."""
    used = [name for name in group.column_names if name in compiled.fields or name in _IMPLICIT]
    key = distinct_key(group, used)
    if key is None:
        return render_batch(compiled, group, "language", extra)
    unique = pc.unique(key)
    if len(unique) == group.num_rows:
        return render_batch(compiled, group, "language", extra)
    first = pc.index_in(unique, value_set=key)
    rendered = render_batch(compiled, group.take(first), "language", extra)
    return rendered.take(pc.index_in(key, value_set=unique))


def _failed(rows: int, error: str | None) -> pa.Table:
    return pa.table(
        {
            "subject": pa.nulls(rows, pa.string()),
            "body": pa.nulls(rows, pa.string()),
            "html": pa.nulls(rows, pa.string()),
            "render_error": pa.array([error] * rows, pa.string()),
        },
        schema=RENDER_SCHEMA,
    )


def render_rows(
    data: pa.Table,
    key_column: str,
    contents: Mapping[str, Content],
    context_columns: list[str],
    extra: Mapping[str, Any],
    channel: str,
    links: LinkTracking | None = None,
) -> pa.Table:
    """Render every row of ``data`` with ``contents[row[key_column]]``; same row order.

    With ``links``, http(s) links become tracked short links and a ``links`` column lists
    each row's (code, original, destination) for the service to store."""
    if links is not None:
        rendered = render_rows(data, key_column, contents, context_columns, extra, channel)
        return track_links(rendered, data, links)
    if data.num_rows == 0:
        return RENDER_SCHEMA.empty_table()
    keys = data.column(key_column)
    positions: list[pa.Array] = []
    parts: list[pa.Table] = []
    for key in pc.unique(keys).to_pylist():
        mask = pc.equal(keys, key)
        where = pc.indices_nonzero(mask)
        content = contents.get(key)
        error: str | None = None if content is not None else f"no template for {key}"
        compiled = None
        if content is not None:
            try:
                compiled = compile_content(content, channel)
            except TemplateError as failure:
                error = str(failure)
        if compiled is None:
            part = _failed(len(where), error)
        else:
            rendered = _render_distinct(compiled, data.filter(mask).select(context_columns),
                                        extra)  # fmt: skip
            part = pa.table(
                {
                    "subject": rendered.column("subject"),
                    "body": rendered.column("body"),
                    "html": rendered.column("html"),
                    "render_error": rendered.column("error"),
                },
                schema=RENDER_SCHEMA,
            )
        positions.append(where)
        parts.append(part)
    order = pc.sort_indices(pa.concat_arrays(positions))
    return pa.concat_tables(parts).take(order).combine_chunks()


LINKS_TYPE = pa.list_(
    pa.struct([("code", pa.string()), ("original", pa.string()), ("destination", pa.string())])
)


def track_links(rendered: pa.Table, data: pa.Table, tracking: LinkTracking) -> pa.Table:
    """Rewrite the links of rendered messages (``data`` gives each row's ``message_key``,
    ``segment`` and ``template_variant`` or ``variant``); adds the ``links`` column.

    Per value, like rendering itself, but only for the rows whose body or html contains
    "http" (found column-wise): the others are not touched and get no links."""
    variant_column = "template_variant" if "template_variant" in data.column_names else "variant"
    body = rendered.column("body").combine_chunks()
    html = rendered.column("html").combine_chunks()
    linked = pc.fill_null(
        pc.or_kleene(pc.match_substring(body, "http"), pc.match_substring(html, "http")), False
    )
    where = pc.indices_nonzero(linked)
    if len(where) == 0:
        offsets = pa.array(np.zeros(rendered.num_rows + 1, np.int32))
        none = pa.ListArray.from_arrays(offsets, pa.array([], LINKS_TYPE.value_type))
        return rendered.append_column("links", none)
    bodies = body.take(where).to_pylist()
    htmls = html.take(where).to_pylist()
    keys = data.column("message_key").take(where).to_pylist()
    segments = data.column("segment").take(where).to_pylist()
    variants = data.column(variant_column).take(where).to_pylist()
    found: list[list[dict[str, str]]] = [[] for _ in range(rendered.num_rows)]
    for index, row in enumerate(where.to_pylist()):
        texts, tracked = tracking.rewrite(
            keys[index], segments[index], variants[index],
            {"body": bodies[index], "html": htmls[index]},
        )  # fmt: skip
        bodies[index], htmls[index] = texts["body"], texts["html"]
        found[row] = [vars(link) for link in tracked]
    out = rendered.set_column(
        rendered.schema.get_field_index("body"),
        "body",
        pc.replace_with_mask(body, linked, pa.array(bodies, pa.string())),
    )
    out = out.set_column(
        out.schema.get_field_index("html"),
        "html",
        pc.replace_with_mask(html, linked, pa.array(htmls, pa.string())),
    )
    return out.append_column("links", pa.array(found, LINKS_TYPE))
