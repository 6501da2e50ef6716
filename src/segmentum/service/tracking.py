"""Tracking use cases: tracked links (store them, resolve a click), and message events.

A click on ``<base>/r/<code>`` records a ``message_clicked`` event (campaign_id and channel as
properties) through the normal events import, a ``link_clicks`` row in the app store, and
answers the destination with its UTM parameters. Ledger outcomes (sent, delivered, failed)
become ``message_sent`` / ``message_delivered`` / ``message_failed`` events the same way
(``sync_message_events``), so segment conditions such as ``message(converted, campaign = x)``
see them. Event ids are derived from the message key or link code and the instant, so a
repeat imports as unchanged.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmentum.campaigns.audience import Plan
from segmentum.campaigns.links import CODE_PATTERN, LinkTracking
from segmentum.service.clock import now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.imports import ImportOptions, ImportSummary, import_file
from segmentum.service.workspace import Workspace
from segmentum.store import campaigns as campaign_store
from segmentum.store import links as link_store
from segmentum.store.campaigns import naive

EVENT_COLUMNS = ("event_id", "customer_id", "type", "occurred_at", "campaign_id", "channel",
                 "properties")  # fmt: skip


class UnknownLinkError(ServiceError):
    """No tracked link has this code."""


def link_tracking(ws: Workspace, campaign_id: str, channel: str) -> LinkTracking | None:
    """What the renderer needs to rewrite the links of a campaign's (or an automation's:
    ``automation:<name>``) messages; None when tracking is off."""
    settings = ws.settings.tracking
    if not settings.enabled:
        return None
    return LinkTracking(settings.base_url, campaign_id, channel)


def links_from_rendered(
    rows: pa.Table, rendered: pa.Table, occurrence: int, now: datetime
) -> pa.Table:
    """The tracked_links rows of a rendered batch: ``rows`` (message_key, campaign_id or the
    ``campaign`` of each row, customer_id, channel, segment, variant) beside ``rendered``'s
    ``links`` column, one output row per link."""
    if "links" not in rendered.column_names or rendered.num_rows == 0:
        return pa.table({name: pa.array([], pa.string()) for name in link_store.LINK_COLUMNS})
    lists = rendered.column("links").combine_chunks()
    parents = pc.list_parent_indices(lists)
    flat = pc.list_flatten(lists)
    base = rows.take(parents)
    count = len(flat)
    return pa.table(
        {
            "code": flat.field("code"),
            "message_key": base.column("message_key"),
            "campaign_id": base.column("campaign_id"),
            "occurrence": pa.array([occurrence] * count, pa.int32()),
            "customer_id": base.column("customer_id"),
            "channel": base.column("channel"),
            "segment": base.column("segment"),
            "variant": base.column("variant"),
            "original": flat.field("original"),
            "destination": flat.field("destination"),
            "created_at": pa.array([naive(now)] * count, pa.timestamp("us")),
        }
    )


def register_links(ws: Workspace, links: pa.Table) -> int:
    """Store tracked links (from ``links_from_rendered``); existing codes are kept."""
    return link_store.insert_links(ws.store, links)


def register_plan_links(ws: Workspace, planned: Plan, occurrence: int, now: datetime) -> int:
    """Store the links of a plan made with ``links=`` (a campaign occurrence or an
    automation round), in the caller's transaction with its ledger rows, so every sent
    message's ``/r/<code>`` resolves; returns how many were new."""
    if planned.tracked_rows is None or planned.tracked_links is None:
        return 0
    rows = links_from_rendered(planned.tracked_rows, planned.tracked_links, occurrence, now)
    return register_links(ws, rows)


def _utc_text(instant: datetime) -> str:
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def import_events(ws: Workspace, rows: list[dict[str, Any]] | pa.Table) -> ImportSummary:
    """Events (``EVENT_COLUMNS``) through the normal import path: a Parquet file in a
    temporary directory, imported into ``events`` (upsert by event id; unknown customers are
    quarantined as in any import)."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    with tempfile.TemporaryDirectory(prefix="segmentum-events-") as directory:
        path = Path(directory) / "events.parquet"
        pq.write_table(table, path)
        options = ImportOptions(file_format="parquet", rejects_path=Path(directory) / "rej.csv")
        return import_file(ws, "events", path, options)


def resolve(ws: Workspace, code: str) -> link_store.StoredLink:
    if not CODE_PATTERN.match(code):
        raise UnknownLinkError(f"no link {code!r}")
    link = link_store.get_link(ws.store, code)
    if link is None:
        raise UnknownLinkError(f"no link {code!r}")
    return link


def record_click(ws: Workspace, code: str, at: datetime | None = None) -> str:
    """A click on a tracked link: record it and return the destination (with UTM)."""
    link = resolve(ws, code)
    at = at or now_utc()
    stamp = naive(at)
    event_id = f"click:{code}:{stamp:%Y%m%d%H%M%S%f}"
    import_events(
        ws,
        [
            {
                "event_id": event_id,
                "customer_id": link.customer_id,
                "type": "message_clicked",
                "occurred_at": _utc_text(at),
                "campaign_id": link.campaign_id,
                "channel": link.channel,
                "properties": json.dumps(
                    {"code": code, "url": link.original, "occurrence": link.occurrence}
                ),
            }
        ],
    )
    link_store.record_click(ws.store, link, event_id, at)
    return link.destination


def sync_message_events(ws: Workspace, campaign_id: str) -> ImportSummary | None:
    """Ledger outcomes of a campaign as message events, set-based and idempotent (None when
    there are none). ``message_sent`` and ``message_delivered`` carry the instant the message
    was sent, ``message_failed`` the ledger row's last update."""
    parts = [
        ("sent", "message_sent", "sent_at", "sent_at IS NOT NULL"),
        ("delivered", "message_delivered", "sent_at",
         "status = 'delivered' AND sent_at IS NOT NULL"),
        ("failed", "message_failed", "updated_at", "status = 'failed'"),
    ]  # fmt: skip
    sql = " UNION ALL ".join(
        f"SELECT message_key || ':{suffix}' AS event_id, customer_id, '{kind}' AS type, "
        f"{instant} AS occurred_at, campaign_id, channel, message_key FROM send_ledger "
        f"WHERE campaign_id = ? AND source = 'campaign' AND {condition}"
        for suffix, kind, instant, condition in parts
    )
    rows = campaign_store.query_arrow(ws.store, sql + " ORDER BY event_id", [campaign_id] * 3)
    if rows.num_rows == 0:
        return None
    occurred = pc.strftime(rows.column("occurred_at").cast(pa.timestamp("us")),
                           format="%Y-%m-%dT%H:%M:%SZ")  # fmt: skip
    properties = pc.binary_join_element_wise(
        '{"message_key": "', rows.column("message_key"), '"}', ""
    )
    events = pa.table(
        {
            "event_id": rows.column("event_id"),
            "customer_id": rows.column("customer_id"),
            "type": rows.column("type"),
            "occurred_at": occurred,
            "campaign_id": rows.column("campaign_id"),
            "channel": rows.column("channel"),
            "properties": properties,
        }
    )
    return import_events(ws, events)


def click_counts(ws: Workspace, campaign_id: str) -> dict[str, int]:
    return link_store.click_counts(ws.store, campaign_id)
