"""The file outbox: one JSON line per message."""

from __future__ import annotations

import json
from pathlib import Path

from segmentum.campaigns.channels import OutgoingMessage, channel_from_config, send_many
from segmentum.campaigns.channels.outbox import OutboxChannel


def message(key: str) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        channel="sms",
        to="+420601123456",
        body="Ahoj 👋",
        metadata={"customer_id": "c1"},
    )


def test_outbox_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "out" / "outbox.jsonl"
    channel = channel_from_config({"type": "outbox", "path": str(path)})
    assert isinstance(channel, OutboxChannel)
    first = channel.send(message("k1"))
    results = send_many(channel, [message("k2"), message("k1")])
    channel.close()
    assert (first.status, first.provider_message_id) == ("sent", "k1")
    assert [r.status for r in results] == ["sent", "sent"]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["idempotency_key"] for line in lines] == ["k1", "k2", "k1"]
    assert json.loads(lines[0]) == {
        "idempotency_key": "k1",
        "channel": "sms",
        "to": "+420601123456",
        "subject": None,
        "body": "Ahoj 👋",
        "html": None,
        "headers": {},
        "metadata": {"customer_id": "c1"},
    }
    assert "👋" in lines[0]  # UTF-8, not escaped


def test_outbox_reopens_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    for key in ("a", "b"):
        channel = OutboxChannel({"path": str(path), "fsync": False})
        channel.send(message(key))
        channel.close()
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2
    assert OutboxChannel({"path": str(path)}).send_many([]) == []
