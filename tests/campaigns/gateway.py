"""A local HTTP SMS gateway for tests: dedupes by idempotency key and logs every request.

Usage::

    gateway = TestGateway().start()        # 127.0.0.1 on a free port
    config = {"type": "http_sms", "url": gateway.url}
    ...
    gateway.received        # every request, in order: dicts (see below)
    gateway.delivered_keys  # idempotency keys accepted for delivery, each once, in order
    gateway.fail_next(2, 503)          # the next 2 requests answer 503 (not delivered)
    gateway.delay_next(1, 2.0)         # the next request waits 2 s before answering
    gateway.stop()

Each `received` item: ``{"path", "headers" (lower-case names), "fields" (the JSON or form
body), "key" (Idempotency-Key header or the body's ``idempotency_key``), "status" (what the
gateway answered), "duplicate" (key seen before)}``. A request whose key was already delivered
answers 200 with the first message id and is not delivered again. Answers are JSON
``{"id": "msg-<n>", "status": "queued"|"duplicate"}``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


class TestGateway:
    __test__ = False  # not a pytest test class

    def __init__(self, idempotency_header: str = "Idempotency-Key") -> None:
        self.idempotency_header = idempotency_header.lower()
        self.received: list[dict[str, Any]] = []
        self.delivered_keys: list[str] = []
        self._ids: dict[str, str] = {}
        self._count = 0
        self._failures: list[int] = []
        self._delays: list[float] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ---------------------------------------------------------------------------

    def start(self) -> TestGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, answer = gateway._handle(self.path, dict(self.headers.items()), raw)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the gateway first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/sms"

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` requests with `status` without delivering them."""
        with self._lock:
            self._failures.extend([status] * count)

    def delay_next(self, count: int, seconds: float) -> None:
        """Wait `seconds` before answering each of the next `count` requests."""
        with self._lock:
            self._delays.extend([seconds] * count)

    # --- handling --------------------------------------------------------------------------

    def _handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        lower = {name.lower(): value for name, value in headers.items()}
        fields: dict[str, Any]
        if lower.get("content-type", "").startswith("application/json"):
            fields = json.loads(raw or b"{}")
        else:
            fields = dict(parse_qsl(raw.decode()))
        key = lower.get(self.idempotency_header) or fields.get("idempotency_key")
        with self._lock:
            delay = self._delays.pop(0) if self._delays else 0.0
            failure = self._failures.pop(0) if self._failures else None
        if delay:
            time.sleep(delay)
        with self._lock:
            record: dict[str, Any] = {
                "path": path,
                "headers": lower,
                "fields": fields,
                "key": key,
                "duplicate": key is not None and key in self._ids,
            }
            if failure is not None:
                record["status"] = failure
                self.received.append(record)
                return failure, {"error": "injected failure"}
            if key is not None and key in self._ids:
                record["status"] = 200
                self.received.append(record)
                return 200, {"id": self._ids[key], "status": "duplicate"}
            self._count += 1
            message_id = f"msg-{self._count}"
            if key is not None:
                self._ids[key] = message_id
                self.delivered_keys.append(key)
            record["status"] = 200
            self.received.append(record)
            return 200, {"id": message_id, "status": "queued"}
