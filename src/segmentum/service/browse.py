"""What the web UI and the REST API read in pages: customer search, subscriptions, a page of a
segment's members, exports as bytes, audience overlaps, and changes to draft campaigns.

Every value a user types is a bound Ibis literal; nothing is pasted into SQL text.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from segmentum.campaigns.model import Campaign, CampaignState
from segmentum.catalog.tables import CHANNELS, SENDABLE_STATUS
from segmentum.service import campaigns as campaign_service
from segmentum.service.clock import now_utc, resolve_as_of
from segmentum.service.errors import ServiceError
from segmentum.service.membership import neutralise_formulas
from segmentum.service.segments import (
    _needed,
    evaluate,
    get_definition,
    members,
    stored_definitions,
)
from segmentum.service.workspace import Workspace
from segmentum.store import campaigns as campaign_store
from segmentum.store import segments as segment_store

SEARCH_COLUMNS = ("customer_id", "first_name", "last_name", "email", "phone", "city", "country")
MAX_PAGE = 500


def segment_exists(ws: Workspace, name: str) -> bool:
    return segment_store.get_segment(ws.store, name) is not None


def _page(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= limit <= MAX_PAGE:
        raise ServiceError(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise ServiceError("offset must not be negative")
    return limit, offset


def _count(expr: ibis.Table) -> int:
    return int(expr.count().to_pyarrow().as_py())


def _plain_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [dict(row) for row in table.to_pylist()]


def search_customers(
    ws: Workspace,
    query: str | None = None,
    *,
    country: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Customers whose id, name, e-mail or phone contains ``query`` (case-insensitive)."""
    limit, offset = _page(limit, offset)
    customers = ws.table("customers")
    expr = customers
    if query:
        needle = ibis.literal(query.replace("\x00", "").strip().lower()[:200])
        matches = [
            customers[column].cast("string").lower().contains(needle)
            for column in ("customer_id", "first_name", "last_name", "email", "phone")
        ]
        expr = expr.filter(ibis.or_(*[m.fill_null(False) for m in matches]))
    if country:
        expr = expr.filter(expr.country == ibis.literal(country.strip().upper()[:2]))
    total = _count(expr)
    rows = expr.select(*SEARCH_COLUMNS).order_by("customer_id").limit(limit, offset=offset)
    return _plain_rows(rows.to_pyarrow()), total


def customer_subscriptions(
    ws: Workspace,
    *,
    customer_id: str | None = None,
    channel: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Consent rows (customer, channel, status, changed_at, source), filtered."""
    limit, offset = _page(limit, offset)
    table = ws.table("subscriptions")
    expr = table
    for column, value in (("customer_id", customer_id), ("channel", channel), ("status", status)):
        if value is not None:
            expr = expr.filter(expr[column] == ibis.literal(value))
    total = _count(expr)
    page = (
        expr.select("customer_id", "channel", "status", "changed_at", "source")
        .order_by(["customer_id", "channel"])
        .limit(limit, offset=offset)
    )
    return _plain_rows(page.to_pyarrow()), total


def sendable_per_channel(ws: Workspace) -> dict[str, int]:
    """Customers opted in, per channel."""
    subscriptions = ws.table("subscriptions")
    opted_in = subscriptions.filter(subscriptions.status == ibis.literal(SENDABLE_STATUS))
    counted = opted_in.group_by("channel").aggregate(n=opted_in.count()).to_pyarrow().to_pylist()
    found = {row["channel"]: int(row["n"]) for row in counted}
    return {channel: found.get(channel, 0) for channel in CHANNELS}


def member_page(
    ws: Workspace,
    name: str,
    *,
    limit: int = 50,
    offset: int = 0,
    as_of: date | None = None,
    columns: tuple[str, ...] = (),
) -> tuple[list[dict[str, Any]], int]:
    limit, offset = _page(limit, offset)
    expr = members(ws, name, as_of, columns)
    total = _count(expr)
    return _plain_rows(expr.limit(limit, offset=offset).to_pyarrow()), total


def export_members_csv(
    ws: Workspace, name: str, columns: tuple[str, ...] = (), as_of: date | None = None
) -> tuple[bytes, int]:
    """Members as CSV bytes (spreadsheet formulas neutralised, lists joined with ``;``)."""
    table = members(ws, name, as_of, columns).to_pyarrow()
    flat = table
    for index, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            flat = flat.set_column(index, field.name, pc.binary_join(table.column(index), ";"))
    sink = io.BytesIO()
    pa_csv.write_csv(neutralise_formulas(flat), sink)
    return sink.getvalue(), int(table.num_rows)


def audience_overlap(
    ws: Workspace, include: list[str], exclude: list[str], as_of: date | None = None
) -> dict[str, Any]:
    """Sizes of each segment, pairwise overlaps, and the audience the priority order gives:
    each person counted once, in the first included segment they are in, none excluded."""
    if not include:
        raise ServiceError("choose at least one segment")
    names = list(dict.fromkeys([*include, *exclude]))
    for name in names:
        get_definition(ws, name)
    instant = resolve_as_of(as_of, ws.settings.timezone)
    result = evaluate(ws, _needed(stored_definitions(ws), names), instant)
    flag = {name: result[name].fill_null(False) for name in names}
    excluded = ibis.or_(*[flag[name] for name in exclude]) if exclude else ibis.literal(False)
    metrics: dict[str, Any] = {}
    for name in names:
        metrics[f"size__{name}"] = flag[name].cast("int64").sum()
    for i, left in enumerate(include):
        for right in include[i + 1 :]:
            metrics[f"both__{left}__{right}"] = (flag[left] & flag[right]).cast("int64").sum()
    earlier: list[ibis.Value] = []
    for name in include:
        first = flag[name] & ~excluded
        for previous in earlier:
            first = first & ~previous
        metrics[f"gets__{name}"] = first.cast("int64").sum()
        earlier.append(flag[name])
    row = result.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    value = {key: int(v or 0) for key, v in row.items()}
    return {
        "segments": [
            {"segment": name, "size": value[f"size__{name}"], "audience": value[f"gets__{name}"]}
            for name in include
        ],
        "excluded": [{"segment": name, "size": value[f"size__{name}"]} for name in exclude],
        "overlaps": [
            {"a": left, "b": right, "customers": value[f"both__{left}__{right}"]}
            for i, left in enumerate(include)
            for right in include[i + 1 :]
        ],
        "audience": sum(value[f"gets__{name}"] for name in include),
    }


# --- draft campaigns ----------------------------------------------------------------------------


def update_campaign(ws: Workspace, campaign_id: str, data: Any) -> dict[str, Any]:
    """Replace a draft's definition (validated like a new one; the name cannot change)."""
    stored, _ = campaign_service.get_campaign(ws, campaign_id)
    if stored.state != CampaignState.DRAFT:
        raise ServiceError(f"campaign {campaign_id} is {stored.state}; only a draft can change")
    campaign = campaign_service.parse_campaign(data)
    if campaign.name != campaign_id:
        raise ServiceError(f"the definition names {campaign.name!r}, not {campaign_id!r}")
    campaign_service._check(ws, campaign)
    campaign_store.update_definition(
        ws.store, campaign_id, campaign.model_dump_json(exclude_defaults=False), now_utc()
    )
    return campaign_service.definition_json(ws, campaign_id)


def campaign_detail(ws: Workspace, campaign_id: str) -> dict[str, Any]:
    stored, campaign = campaign_service.get_campaign(ws, campaign_id)
    return {
        "campaign": stored.campaign_id,
        "state": stored.state,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
        "started_at": stored.started_at,
        "next_run_at": stored.next_run_at,
        "occurrences": stored.occurrences,
        "definition": json.loads(campaign.model_dump_json()),
    }


def recent_campaigns(ws: Workspace, limit: int = 5) -> list[dict[str, Any]]:
    rows = campaign_service.list_campaigns(ws)
    rows.sort(key=lambda row: _naive(row["updated_at"]), reverse=True)
    return rows[:limit]


def _naive(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.min


def parse_definition(data: Any) -> Campaign:
    return campaign_service.parse_campaign(data)


def customer_segments(ws: Workspace, customer_id: str) -> list[dict[str, Any]]:
    """The segments the customer was in at the last membership refresh, with the sentence."""
    customers = ws.table("customers")
    found = customers.filter(customers.customer_id == ibis.literal(customer_id)).count()
    if int(found.to_pyarrow().as_py()) == 0:
        raise ServiceError(f"no customer {customer_id!r}")
    rows = ws.store.query(
        "SELECT segment, version, entered_at FROM segment_members WHERE customer_id = ? "
        "ORDER BY segment",
        (customer_id,),
    )
    sentences = {row["name"]: row["sentence"] for row in _sentences(ws)}
    return [{**row, "sentence": sentences.get(row["segment"], "")} for row in rows]


def _sentences(ws: Workspace) -> list[dict[str, Any]]:
    from segmentum.spec.describe import describe
    from segmentum.spec.external import from_external

    return [
        {"name": stored.name, "sentence": describe(from_external(stored.definition))}
        for stored in segment_store.list_segments(ws.store)
    ]


def rfm_presets() -> tuple[str, ...]:
    """The names ``preset`` may take in RFM summaries."""
    from segmentum.compiler.rfm import PRESETS

    return tuple(sorted(PRESETS))
