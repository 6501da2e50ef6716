"""Helpers for the campaign tests: a workspace with customers, consent and tag segments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.workspace import Workspace

CUSTOMER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("first_name", pa.string()),
        ("phone", pa.string()),
        ("email", pa.string()),
        ("country", pa.string()),
        ("timezone", pa.string()),
        ("language", pa.string()),
        ("tags", pa.list_(pa.string())),
    ]
)


def customer(
    index: int,
    tags: Sequence[str] = (),
    *,
    language: str | None = "en",
    timezone: str | None = "Europe/Prague",
    country: str | None = "CZ",
    phone: str | None = "auto",
    email: str | None = "auto",
) -> dict[str, Any]:
    return {
        "customer_id": f"C{index:04d}",
        "first_name": f"Name{index}",
        "phone": f"+420777{index:06d}" if phone == "auto" else phone,
        "email": f"c{index}@example.com" if email == "auto" else email,
        "country": country,
        "timezone": timezone,
        "language": language,
        "tags": list(tags),
    }


def load_customers(ws: Workspace, rows: list[dict[str, Any]]) -> None:
    data = pa.Table.from_pylist(rows, schema=CUSTOMER_SCHEMA)
    con = ws.engine.backend.con  # type: ignore[attr-defined]
    con.register("incoming_customers", data)
    con.execute("INSERT INTO customers BY NAME SELECT * FROM incoming_customers")
    con.unregister("incoming_customers")


def load_subscriptions(
    ws: Workspace, rows: list[tuple[str, str, str]], at: datetime = datetime(2026, 1, 1)
) -> None:
    data = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "channel": [r[1] for r in rows],
            "status": [r[2] for r in rows],
            "changed_at": pa.array([at] * len(rows), pa.timestamp("us")),
            "source": ["import"] * len(rows),
        }
    )
    con = ws.engine.backend.con  # type: ignore[attr-defined]
    con.register("incoming_subs", data)
    con.execute("INSERT INTO subscriptions BY NAME SELECT * FROM incoming_subs")
    con.unregister("incoming_subs")


def tag_segments(ws: Workspace, *names: str) -> None:
    for name in names:
        create_segment(ws, name, DefinitionSource(text=f"has_tag({name})"))


def outbox_settings(ws: Workspace, directory: str, **extra: Any) -> None:
    data = ws.settings.model_dump(mode="json")
    data["channels"] = {
        ch: {"type": "outbox", "path": f"{directory}/{ch}.jsonl"}
        for ch in ("sms", "email", "web_push")
    }
    data["frequency_caps"] = []
    data["quiet_hours"] = {"start": "00:00", "end": "00:00"}
    data.update(extra)
    ws.update_settings(WorkspaceSettings.model_validate(data))


def sms_campaign(name: str = "spring", **extra: Any) -> dict[str, Any]:
    campaign: dict[str, Any] = {
        "name": name,
        "channel": "sms",
        "segments": [
            {"segment": "vip", "template": {"body": "VIP {{ first_name }}"}},
            {"segment": "lapsed", "template": {"body": "Come back {{ first_name }}"}},
        ],
        "exclude": ["complained"],
    }
    campaign.update(extra)
    return campaign
