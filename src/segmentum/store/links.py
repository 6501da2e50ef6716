"""Tracked links and their clicks in the app store.

Links are written with the ledger rows of their messages (set-based, from Arrow); a code that
exists already is kept (codes are derived from the message key and destination, so a repeated
plan of the same message yields the same rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from segmentum.engine.connection import EngineKind
from segmentum.store.campaigns import naive
from segmentum.store.database import AppStore, arrow_views

LINK_COLUMNS: tuple[str, ...] = (
    "code", "message_key", "campaign_id", "occurrence", "customer_id", "channel", "segment",
    "variant", "original", "destination", "created_at",
)  # fmt: skip


@dataclass(frozen=True)
class StoredLink:
    code: str
    message_key: str
    campaign_id: str
    occurrence: int
    customer_id: str
    channel: str
    segment: str | None
    variant: str | None
    original: str
    destination: str


def insert_links(store: AppStore, links: pa.Table) -> int:
    """Add links whose code is new; returns how many were added."""
    if links.num_rows == 0:
        return 0
    names = ", ".join(LINK_COLUMNS)
    before = int(store.scalar("SELECT count(*) FROM tracked_links") or 0)
    if store.kind is EngineKind.DUCKDB:
        with arrow_views(store, links=links.select(list(LINK_COLUMNS))) as view:
            store.execute(
                f"INSERT INTO tracked_links ({names}) SELECT {names} FROM "
                f"(SELECT *, row_number() OVER (PARTITION BY code) AS rn FROM {view['links']}) s "
                "WHERE rn = 1 AND NOT EXISTS "
                "(SELECT 1 FROM tracked_links t WHERE t.code = s.code)"
            )
    else:
        marks = ", ".join("?" for _ in LINK_COLUMNS)
        rows = [
            tuple(row[name] for name in LINK_COLUMNS)
            for row in links.select(LINK_COLUMNS).to_pylist()
        ]
        store.executemany(
            f"INSERT INTO tracked_links ({names}) VALUES ({marks}) ON CONFLICT (code) DO NOTHING",
            rows,
        )
    return int(store.scalar("SELECT count(*) FROM tracked_links") or 0) - before


def get_link(store: AppStore, code: str) -> StoredLink | None:
    rows = store.query(
        "SELECT code, message_key, campaign_id, occurrence, customer_id, channel, segment, "
        "variant, original, destination FROM tracked_links WHERE code = ?",
        (code,),
    )
    if not rows:
        return None
    row: dict[str, Any] = rows[0]
    return StoredLink(**{**row, "occurrence": int(row["occurrence"])})


def record_click(store: AppStore, link: StoredLink, event_id: str, at: datetime) -> None:
    store.execute(
        "INSERT INTO link_clicks VALUES (?, ?, ?, ?, ?)",
        (link.code, link.campaign_id, link.customer_id, naive(at), event_id),
    )


def click_counts(store: AppStore, campaign_id: str) -> dict[str, int]:
    """Clicks (all) and distinct clicking customers of a campaign's links."""
    rows = store.query(
        "SELECT count(*) AS clicks, count(DISTINCT customer_id) AS customers "
        "FROM link_clicks WHERE campaign_id = ?",
        (campaign_id,),
    )
    return {"clicks": int(rows[0]["clicks"]), "customers": int(rows[0]["customers"])}


def links_of(store: AppStore, campaign_id: str) -> list[dict[str, Any]]:
    return store.query(
        "SELECT * FROM tracked_links WHERE campaign_id = ? ORDER BY customer_id, code",
        (campaign_id,),
    )
