"""A file outbox: one JSON line per message, for dry runs, the demo and benchmarks.

Lines are appended and the file is fsynced once per `send` and once per `send_many` /
`send_table` batch. `send_table` (the worker's path) encodes a whole Arrow batch to JSON lines
in an in-process DuckDB (``json_object``) instead of one `json.dumps` per message: the same
objects, written compactly.
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

import duckdb
import pyarrow as pa

from segmentum.campaigns.channels.base import (
    ANSWER_SCHEMA,
    MESSAGE_FIELDS,
    ChannelConfigError,
    OutgoingMessage,
    SendResult,
)


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


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lines_sql(metadata_names: Sequence[str]) -> str:
    """One JSON line per row of the registered ``messages``, keys in `outbox_record`'s order;
    metadata keys whose value is null are left out, like an absent key."""
    entries = ", ".join(
        f"{{'k': '{name.replace(chr(39), chr(39) * 2)}', 'v': {_quoted(name)}}}"
        for name in metadata_names
    )
    metadata = (
        f"to_json(map_from_entries(list_filter([{entries}], e -> e.v IS NOT NULL)))"
        if metadata_names
        else "json_object()"
    )
    return (
        "SELECT CAST(json_object('idempotency_key', idempotency_key, 'channel', channel, "
        "'to', \"to\", 'subject', subject, 'body', body, 'html', html, "
        f"'headers', json_object(), 'metadata', {metadata}) AS VARCHAR) || chr(10) AS line "
        "FROM messages ORDER BY _position"
    )


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
        self._encoder = json.JSONEncoder(ensure_ascii=False)
        self._duckdb: duckdb.DuckDBPyConnection | None = None

    def _open(self) -> IO[str]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        return self._file

    def _append(self, lines: str) -> str | None:
        """Append and (optionally) fsync; the error text, or None when written."""
        try:
            handle = self._open()
            handle.write(lines)
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())
        except OSError as error:
            return f"outbox: {error}"
        return None

    def _write(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        encode = self._encoder.encode
        lines = "".join([encode(outbox_record(message)) + "\n" for message in messages])
        with self._lock:
            error = self._append(lines)
        if error is not None:
            return [SendResult("temporary_failure", error=error)] * len(messages)
        return [SendResult("sent", provider_message_id=m.idempotency_key) for m in messages]

    def send_table(self, messages: pa.Table) -> pa.Table:
        """Append a batch given as Arrow (`base.MESSAGE_FIELDS` + metadata columns)."""
        rows = messages.num_rows
        if rows == 0:
            return ANSWER_SCHEMA.empty_table()
        metadata_names = [name for name in messages.column_names if name not in MESSAGE_FIELDS]
        positioned = messages.append_column("_position", pa.array(range(rows), pa.int64()))
        with self._lock:
            if self._duckdb is None:
                self._duckdb = duckdb.connect()
            self._duckdb.register("messages", positioned)
            try:
                encoded = self._duckdb.execute(_lines_sql(metadata_names)).fetchall()
            finally:
                self._duckdb.unregister("messages")
            error = self._append("".join([line for (line,) in encoded]))
        if error is not None:
            return pa.table(
                {
                    "status": pa.array(["temporary_failure"] * rows, pa.string()),
                    "provider_message_id": pa.nulls(rows, pa.string()),
                    "error": pa.array([error] * rows, pa.string()),
                },
                schema=ANSWER_SCHEMA,
            )
        return pa.table(
            {
                "status": pa.array(["sent"] * rows, pa.string()),
                "provider_message_id": messages.column("idempotency_key"),
                "error": pa.nulls(rows, pa.string()),
            },
            schema=ANSWER_SCHEMA,
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        return self._write([message])[0]

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return self._write(messages) if messages else []

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._duckdb is not None:
                self._duckdb.close()
                self._duckdb = None
