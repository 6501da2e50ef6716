"""Tracked links: codes, UTM parameters, rewriting at render time, storing and clicking."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from segmentum.api.app import create_app
from segmentum.campaigns.links import (
    BASE62,
    LinkTracking,
    base62,
    link_code,
    rewrite_text,
    with_utm,
)
from segmentum.campaigns.model import Content
from segmentum.campaigns.rendering import render_rows
from segmentum.campaigns.sms import count_sms
from segmentum.service import tracking
from segmentum.service.server import ServerSettings
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import customer, load_customers

BASE = "https://sh.op"


def test_base62_codes_are_eight_characters() -> None:
    assert base62(0) == "00000000"
    assert base62(61) == "0000000z"
    assert base62(62) == "00000010"
    assert base62(62**8 - 1) == "zzzzzzzz"
    code = link_code("k" * 32, "https://shop.example/x")
    assert len(code) == 8
    assert set(code) <= set(BASE62)
    assert link_code("k" * 32, "https://shop.example/x") == code
    assert link_code("j" * 32, "https://shop.example/x") != code


def test_utm_parameters_are_added_and_existing_ones_kept() -> None:
    utm = {"utm_source": "segmentum", "utm_medium": "sms", "utm_campaign": "spring"}
    assert with_utm("https://shop.example/p?id=7&utm_source=mail#top", utm) == (
        "https://shop.example/p?id=7&utm_source=mail&utm_medium=sms&utm_campaign=spring#top"
    )
    assert with_utm("https://shop.example", utm) == (
        "https://shop.example?utm_source=segmentum&utm_medium=sms&utm_campaign=spring"
    )


def test_rewrite_keeps_punctuation_and_skips_untracked_links() -> None:
    text = (
        "Sale: https://shop.example/sale. Again https://shop.example/sale, stop: "
        "https://shop.example/unsubscribe?t=1 and https://sh.op/r/AbCdEf12"
    )
    out, found = rewrite_text(text, BASE, lambda url: "Code0001")
    assert out == (
        "Sale: https://sh.op/r/Code0001. Again https://sh.op/r/Code0001, stop: "
        "https://shop.example/unsubscribe?t=1 and https://sh.op/r/AbCdEf12"
    )
    assert found == [("Code0001", "https://shop.example/sale")] * 2


def test_render_rewrites_links_and_lists_them_for_the_store() -> None:
    data = pa.table(
        {
            "template_key": ["t", "t", "u"],
            "message_key": ["m1", "m2", "m3"],
            "segment": ["vip", "vip", "lapsed"],
            "variant": ["a", "a", "default"],
            "first_name": ["Ann", "Bob", "Cy"],
            "language": ["en", "en", "en"],
        }
    )
    contents = {
        "t": Content(body="Hi {{ first_name }} https://shop.example/vip?x=1"),
        "u": Content(body="No link for {{ first_name }}"),
    }
    tracked = LinkTracking(BASE, "spring", "sms")
    rendered = render_rows(data, "template_key", contents, ["first_name", "language"], {}, "sms",
                           links=tracked)  # fmt: skip
    bodies = rendered.column("body").to_pylist()
    links = rendered.column("links").to_pylist()
    destination = (
        "https://shop.example/vip?x=1&utm_source=segmentum&utm_medium=sms&utm_campaign=spring"
        "&utm_content=vip/a"
    )
    first = link_code("m1", destination)
    assert bodies == [f"Hi Ann https://sh.op/r/{first}",
                      f"Hi Bob https://sh.op/r/{link_code('m2', destination)}",
                      "No link for Cy"]  # fmt: skip
    assert links[0] == [
        {"code": first, "original": "https://shop.example/vip?x=1", "destination": destination}
    ]
    assert links[2] == []
    # a short link keeps an SMS in one segment
    assert count_sms(bodies[0]).segments == 1
    untracked = render_rows(data, "template_key", contents, ["first_name", "language"], {},
                            "sms")  # fmt: skip
    assert "links" not in untracked.column_names


def _store_link(ws: Workspace) -> str:
    load_customers(ws, [customer(1, ["vip"])])
    tracked = LinkTracking(BASE, "spring", "sms")
    rows = pa.table(
        {
            "message_key": ["m1"],
            "campaign_id": ["spring"],
            "customer_id": ["C0001"],
            "channel": ["sms"],
            "segment": ["vip"],
            "variant": ["a"],
        }
    )
    rendered = pa.table({"body": ["Go https://shop.example/x"], "html": pa.nulls(1, pa.string())})
    from segmentum.campaigns.rendering import track_links

    rendered = track_links(rendered, rows, tracked)
    links = tracking.links_from_rendered(rows, rendered, 1, datetime(2026, 3, 2, tzinfo=UTC))
    assert tracking.register_links(ws, links) == 1
    assert tracking.register_links(ws, links) == 0  # the same code again: kept once
    code: str = links.column("code")[0].as_py()
    return code


def test_a_click_becomes_a_message_event(workspace: Workspace) -> None:
    code = _store_link(workspace)
    at = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
    destination = tracking.record_click(workspace, code, at)
    assert destination == (
        "https://shop.example/x?utm_source=segmentum&utm_medium=sms&utm_campaign=spring"
        "&utm_content=vip/a"
    )
    events = workspace.engine.table("events").to_pyarrow().to_pylist()
    assert [(e["customer_id"], e["type"], e["campaign_id"], e["channel"], e["occurred_at"])
            for e in events] == [("C0001", "message_clicked", "spring", "sms",
                                  datetime(2026, 3, 2, 12, 30))]  # fmt: skip
    assert tracking.click_counts(workspace, "spring") == {"clicks": 1, "customers": 1}
    with pytest.raises(tracking.UnknownLinkError):
        tracking.record_click(workspace, "zzzzzzzz", at)
    with pytest.raises(tracking.UnknownLinkError):
        tracking.record_click(workspace, "../etc", at)


def test_the_server_redirects_and_records(tmp_path: Path) -> None:
    db = str(tmp_path / "shop.duckdb")
    ws = Workspace.open(db)
    try:
        code = _store_link(ws)
    finally:
        ws.close()
    app = create_app(ServerSettings(db=db, worker=False))
    with TestClient(app) as client:
        answer = client.get(f"/r/{code}", follow_redirects=False)
        assert answer.status_code == 302
        assert answer.headers["location"].startswith("https://shop.example/x?utm_source=segmentum")
        assert client.get("/r/unknown1", follow_redirects=False).status_code == 404
    ws = Workspace.open(db)
    try:
        assert tracking.click_counts(ws, "spring") == {"clicks": 1, "customers": 1}
        events = ws.engine.table("events").count().to_pyarrow().as_py()
        assert events == 1
    finally:
        ws.close()
