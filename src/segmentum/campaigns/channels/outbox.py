"""A file outbox: one JSON line per message, for dry runs, the demo and benchmarks.

Lines are appended and the file is fsynced once per `send` and once per `send_many` batch.
The outbox does not deduplicate by idempotency key (the send ledger does): after a crash
between the write and the ledger update the same key can appear twice, which is the
at-least-once contract every channel has.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from segmentum.campaigns.channels.base import ChannelConfigError, OutgoingMessage, SendResult


def outbox_record(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "idempotency_key": message.idempotency_key,
        "channel": message.channel,
        "to": message.to,
        "subject": message.subject,
        "body": message.body,
        "html": message.html,
        "headers": dict(message.headers),
        "metadata": dict(message.metadata),
    }


class OutboxChannel:
    name = "outbox"

    def __init__(self, config: Mapping[str, Any]):
        path = config.get("path")
        if not path:
            raise ChannelConfigError("outbox: 'path' is required")
        self.path = Path(str(path))
        self.fsync = bool(config.get("fsync", True))
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    def _open(self) -> IO[str]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        return self._file

    def _write(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        lines = "".join(
            json.dumps(outbox_record(message), ensure_ascii=False) + "\n" for message in messages
        )
        with self._lock:
            try:
                handle = self._open()
                handle.write(lines)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            except OSError as error:
                return [SendResult("temporary_failure", error=f"outbox: {error}")] * len(messages)
        return [SendResult("sent", provider_message_id=m.idempotency_key) for m in messages]

    def send(self, message: OutgoingMessage) -> SendResult:
        return self._write([message])[0]

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return self._write(messages) if messages else []

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
