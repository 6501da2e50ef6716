"""Event intake in the Segment HTTP Tracking API convention: ``POST /v1/batch``,
``/v1/identify``, ``/v1/track``, ``/v1/page``, and ``/v1/subscriptions`` (ours). The write key
is an ingest-scope API key (HTTP Basic username or Bearer). An answer is sent only after the
messages are committed (group commit, see docs/intake.md)."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from segmentum.api.auth import IngestKey
from segmentum.service import keys
from segmentum.service.clock import now_utc
from segmentum.service.intake import (
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    MAX_MESSAGE_BYTES,
    GroupCommit,
    IntakeQueue,
    LimitError,
    Submission,
    batch_limit_error,
    message_limit_error,
)
from segmentum.service.server import Server, WebhookError


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the committer after the server opened the workspace; drain it before it closes."""
    server = app.state.server
    assert isinstance(server, Server)
    keys.install_log_redaction()
    intake = IntakeQueue(server.locked, GroupCommit.from_env()).start()
    app.state.intake = intake
    try:
        yield
    finally:
        app.state.intake = None
        await run_in_threadpool(intake.stop)


router = APIRouter(prefix="/v1", tags=["intake"], lifespan=lifespan)


def get_intake(request: Request) -> IntakeQueue:
    intake = getattr(request.app.state, "intake", None)
    if not isinstance(intake, IntakeQueue):
        raise WebhookError("the intake is not running")
    return intake


IntakeDep = Annotated[IntakeQueue, Depends(get_intake)]


async def _body(request: Request, limit: int, too_large: Callable[[int], LimitError]) -> bytes:
    """The request body, never more than ``limit`` bytes (after gunzip): else 413."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(int(declared))
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(size)
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").strip().lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as error:
            raise WebhookError("the body is not valid gzip") from error
        if len(body) > limit or inflater.unconsumed_tail:
            raise too_large(len(body) + len(inflater.unconsumed_tail))
    return body


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise WebhookError(f"the body is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise WebhookError("the body must be a JSON object")
    return data


async def _submit(intake: IntakeQueue, submission: Submission) -> dict[str, Any]:
    report = await asyncio.wrap_future(intake.submit(submission))
    return report.as_dict()


@router.post("/batch")
async def batch(request: Request, intake: IntakeDep, key: IngestKey) -> dict[str, Any]:
    """``{"batch": [message, ...], "sentAt": ...}``: 200 with the accepted and the rejected
    messages (each with its reasons); 413 over 500 KB or 2,500 messages."""
    received_at = now_utc()
    data = _json_object(await _body(request, MAX_BATCH_BYTES, lambda n: batch_limit_error(n)))
    messages = data.get("batch")
    if not isinstance(messages, list):
        raise WebhookError("the body needs a 'batch' list of messages")
    if len(messages) > MAX_BATCH_MESSAGES:
        raise batch_limit_error(count=len(messages))
    return await _submit(intake, Submission(messages, received_at, data.get("sentAt")))


async def _single(request: Request, intake: IntakeQueue, kind: str) -> JSONResponse:
    received_at = now_utc()
    message = _json_object(await _body(request, MAX_MESSAGE_BYTES, message_limit_error))
    message["type"] = kind  # a subscription's changed_at: its event time (ingest.messages)
    answer = await _submit(intake, Submission([message], received_at))
    return JSONResponse(answer, status_code=200 if answer["success"] else 400)


@router.post("/identify")
async def identify(request: Request, intake: IntakeDep, key: IngestKey) -> JSONResponse:
    """One identify: traits upsert the customer. 400 (with the reasons) when rejected."""
    return await _single(request, intake, "identify")


@router.post("/track")
async def track(request: Request, intake: IntakeDep, key: IngestKey) -> JSONResponse:
    """One track: an order, a cart or checkout event, or an event of a declared type."""
    return await _single(request, intake, "track")


@router.post("/page")
async def page(request: Request, intake: IntakeDep, key: IngestKey) -> JSONResponse:
    """One page view (a ``page_view`` event)."""
    return await _single(request, intake, "page")


@router.post("/subscriptions")
async def subscription(request: Request, intake: IntakeDep, key: IngestKey) -> JSONResponse:
    """``{"userId", "channel", "status", "changed_at" | "timestamp", "source"?,
    "messageId"?}``: consent for one channel; the newest change wins."""
    return await _single(request, intake, "subscription")
