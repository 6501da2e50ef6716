"""Event intake: Segment-style messages into the catalog tables, idempotent and durable.

Flow (docs/intake.md has the whole design):

1. An interface builds a `Submission` (the messages of one request or one chunk of a JSON
   lines file, with the instant they were received) and hands it to an `IntakeQueue`
   (HTTP: the server's) or straight to `process` (``segmentum ingest``).
2. The queue's one committer thread takes what is waiting (up to `GroupCommit.max_messages`,
   waiting at most `GroupCommit.max_wait` for more after the first), then under the server's
   workspace lock runs `process` for the whole group: **one transaction** for every message
   of every request in it (rows, idempotency records, quarantine). Only after COMMIT are the
   requests' futures resolved, so an acknowledgement always follows durability.
3. After the commit the touched customers are published to the `on_committed` subscribers.

Idempotency: a message id accepted before (``intake_messages``), or earlier in the same
group, is acknowledged as a duplicate and writes nothing.
"""

from __future__ import annotations

import codecs
import concurrent.futures
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from segmentum.engine.connection import EngineKind
from segmentum.ingest.encoding import guess_encoding
from segmentum.ingest.messages import (
    ALL_REASONS,
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    MAX_MESSAGE_BYTES,
    IngestOutcome,
    Mapped,
    MappingContext,
    ingest_messages,
    map_message,
)
from segmentum.ingest.normalize import is_known_region
from segmentum.service.clock import now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.realtime import keep_item_owners
from segmentum.service.server import WebhookError
from segmentum.service.workspace import Workspace
from segmentum.store import intake as intake_store

__all__ = [
    "ALL_REASONS",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_MESSAGES",
    "MAX_MESSAGE_BYTES",
    "CommitCallback",
    "Committed",
    "GroupCommit",
    "IntakeQueue",
    "IntakeReport",
    "LimitError",
    "MessageAck",
    "Submission",
    "on_committed",
    "process",
]

log = logging.getLogger("segmentum.intake")


class LimitError(WebhookError):
    """A request over a limit (413); the message names the limit."""

    status = 413


class IntakeUnavailableError(WebhookError):
    """The group could not be committed; nothing of it was stored (retry)."""

    status = 503


def batch_limit_error(size: int | None = None, count: int | None = None) -> LimitError:
    if count is not None:
        return LimitError(
            f"the batch has {count:,} messages; the limit is {MAX_BATCH_MESSAGES:,} messages "
            "per batch"
        )
    return LimitError(
        f"the batch is {size or 0:,} bytes; the limit is {MAX_BATCH_BYTES // 1024} KB "
        f"({MAX_BATCH_BYTES:,} bytes) per batch"
    )


def message_limit_error(size: int) -> LimitError:
    return LimitError(
        f"the message is {size:,} bytes; the limit is {MAX_MESSAGE_BYTES // 1024} KB "
        f"({MAX_MESSAGE_BYTES:,} bytes) per message"
    )


@dataclass(frozen=True)
class Submission:
    """The messages of one request (or one chunk of a file), as parsed JSON."""

    messages: Sequence[Any]
    received_at: datetime
    #: The request's ``sentAt`` (Segment batches carry it once for all messages).
    batch_sent_at: Any = None
    source: str = "http"
    submission_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: A message's own ``receivedAt`` is its receipt (replayed files only).
    trust_received_at: bool = False
    #: The quarantine's ``row_number`` of each message (a file's line numbers); default the
    #: message's index in the submission.
    row_numbers: Sequence[int] | None = None


@dataclass(frozen=True)
class MessageAck:
    index: int
    message_id: str
    accepted: bool
    duplicate: bool = False
    reasons: tuple[str, ...] = ()
    #: Fields that have no column (kept in ``intake_messages.ignored``).
    ignored: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "messageId": self.message_id}
        if self.accepted:
            if self.duplicate:
                out["duplicate"] = True
            if self.ignored:
                out["ignored"] = list(self.ignored)
        else:
            out["reasons"] = list(self.reasons)
            out["detail"] = "; ".join(f"{code}: {ALL_REASONS.get(code, code)}"
                                      for code in self.reasons)  # fmt: skip
        return out


@dataclass(frozen=True)
class IntakeReport:
    """The answer to one submission: which messages were accepted and which rejected why."""

    submission_id: str
    acks: tuple[MessageAck, ...]

    @property
    def accepted(self) -> tuple[MessageAck, ...]:
        return tuple(ack for ack in self.acks if ack.accepted)

    @property
    def rejected(self) -> tuple[MessageAck, ...]:
        return tuple(ack for ack in self.acks if not ack.accepted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "success": not self.rejected,
            "batch_id": self.submission_id,
            "accepted": [ack.as_dict() for ack in self.accepted],
            "rejected": [ack.as_dict() for ack in self.rejected],
        }


@dataclass(frozen=True)
class Committed:
    """What one committed group changed, for the `on_committed` subscribers.

    ``by_table`` maps each record table written (``customers``, ``subscriptions``,
    ``orders``, ``order_items``, ``events``) to the customers whose rows were written there;
    ``created_customers`` are bare profiles created for unknown user ids; ``event_types`` the
    event types written. Duplicates and rejected messages are not in it.
    """

    group_id: str
    committed_at: datetime
    messages: int
    by_table: Mapping[str, frozenset[str]]
    created_customers: frozenset[str]
    event_types: frozenset[str]

    @property
    def customers(self) -> frozenset[str]:
        """Every customer touched by the group."""
        out: set[str] = set(self.created_customers)
        for ids in self.by_table.values():
            out.update(ids)
        return frozenset(out)

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(self.by_table)


CommitCallback = Callable[[Committed], None]


class CommitHooks:
    """The subscribers of a workspace's intake commits, called in subscription order in the
    committing thread after COMMIT; a subscriber's exception is logged and does not reach the
    client (its messages are committed already)."""

    def __init__(self) -> None:
        self._callbacks: list[CommitCallback] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: CommitCallback) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def publish(self, committed: Committed) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(committed)
            except Exception:
                log.exception("an on_committed subscriber failed (group %s)", committed.group_id)


def commit_hooks(ws: Workspace) -> CommitHooks:
    hooks = ws.extras.get("intake.hooks")
    if not isinstance(hooks, CommitHooks):
        hooks = ws.extras.setdefault("intake.hooks", CommitHooks())
    assert isinstance(hooks, CommitHooks)
    return hooks


def on_committed(ws: Workspace, callback: CommitCallback) -> Callable[[], None]:
    """Call ``callback(Committed)`` after every intake commit on ``ws`` (HTTP and
    ``segmentum ingest`` alike); returns a function that unsubscribes."""
    return commit_hooks(ws).subscribe(callback)


# --- one group, one transaction -----------------------------------------------------------------


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def _ignored_names(mapped: Mapped) -> tuple[str, ...]:
    return tuple(
        f"{group}.{key}" for group, fields in sorted(mapped.ignored.items()) for key in fields
    )


def _row_number(submissions: Sequence[Submission], place: tuple[int, int]) -> int:
    numbers = submissions[place[0]].row_numbers
    return numbers[place[1]] if numbers is not None else place[1]


def process(
    ws: Workspace, submissions: Sequence[Submission], default_region: str | None = None
) -> tuple[list[IntakeReport], Committed | None]:
    """Apply the submissions in one transaction; the reports and what was committed (None
    when nothing was written). The caller holds the workspace."""
    if ws.engine.kind is not EngineKind.DUCKDB or not ws.store_shares_engine:
        raise ServiceError(
            "the intake needs a DuckDB workspace with its app store in the same file "
            "(PostgreSQL: not yet)"
        )
    group_id = str(uuid.uuid4())
    mapped: list[Mapped] = []
    where: dict[int, tuple[int, int]] = {}  # global index -> (submission, index in it)
    first_of: dict[str, int] = {}
    duplicate_of: dict[int, int] = {}
    for s_number, submission in enumerate(submissions):
        context = MappingContext(ws.catalog, submission.received_at, submission.batch_sent_at,
                                 submission.trust_received_at)  # fmt: skip
        for position, message in enumerate(submission.messages):
            g = len(where)
            where[g] = (s_number, position)
            try:
                item = map_message(g, message, context)
            except Exception:  # a message we cannot read must not fail its group
                log.exception("cannot map message %d of submission %d", position, s_number)
                raw = json.dumps(message, default=str)[:MAX_MESSAGE_BYTES]
                item = Mapped(g, f"unreadable:{uuid.uuid4()}", "unknown", None, None, raw,
                              reasons=["bad_message"])  # fmt: skip
            if item.message_id in first_of:
                duplicate_of[g] = first_of[item.message_id]
                continue
            first_of[item.message_id] = g
            mapped.append(item)
    known = intake_store.known_message_ids(ws.store, list(first_of))
    fresh = [item for item in mapped if item.message_id not in known]
    by_index = {item.index: item for item in mapped}
    committed_at = now_utc()

    def record(outcome: IngestOutcome) -> None:
        keep_item_owners(ws, outcome.order_owners)  # the lookup layout's order_items column
        accepted = [item for item in fresh if not outcome.reasons.get(item.index)]
        rejected = [item for item in fresh if outcome.reasons.get(item.index)]
        intake_store.record_accepted(
            ws.store,
            pa.table(
                {
                    "message_id": [item.message_id for item in accepted],
                    "kind": [item.kind for item in accepted],
                    "customer_id": [item.customer_id for item in accepted],
                    "record_table": [item.table for item in accepted],
                    "received_at": [
                        _naive(submissions[where[item.index][0]].received_at) for item in accepted
                    ],
                    "occurred_at": [
                        _naive(item.occurred_at) if item.occurred_at else None for item in accepted
                    ],
                    "batch_id": [submissions[where[i.index][0]].submission_id for i in accepted],
                    "ignored": [
                        json.dumps(item.ignored, ensure_ascii=False, default=str)
                        if item.ignored else None
                        for item in accepted
                    ],
                },
                schema=intake_store.ACCEPTED_SCHEMA,
            ),
        )  # fmt: skip
        intake_store.record_rejected(
            ws.store,
            pa.table(
                {
                    "import_id": [submissions[where[i.index][0]].submission_id for i in rejected],
                    "table_name": [item.table or "intake" for item in rejected],
                    "source": ["intake:" + submissions[where[i.index][0]].source for i in rejected],
                    "row_number": [_row_number(submissions, where[i.index]) for i in rejected],
                    "reasons": [";".join(outcome.reasons[item.index]) for item in rejected],
                    "raw": [item.raw for item in rejected],
                    "recorded_at": [_naive(committed_at)] * len(rejected),
                },
                schema=intake_store.QUARANTINE_SCHEMA,
            ),
        )

    con: Any = ws.engine.backend.con
    outcome = ingest_messages(
        con, ws.catalog, ws.settings, fresh, default_region=default_region, before_commit=record
    )
    acks: list[list[MessageAck]] = [[] for _ in submissions]
    for g, (s_number, position) in where.items():
        original = by_index[duplicate_of.get(g, g)]
        repeated = g in duplicate_of or original.message_id in known
        reasons = () if original.message_id in known else outcome.reasons.get(original.index, ())
        acks[s_number].append(
            MessageAck(
                position,
                original.message_id,
                accepted=not reasons,
                duplicate=repeated and not reasons,
                reasons=reasons,
                ignored=() if repeated else _ignored_names(original),
            )
        )
    reports = [
        IntakeReport(submission.submission_id, tuple(acks[n]))
        for n, submission in enumerate(submissions)
    ]
    written = sum(1 for item in fresh if not outcome.reasons.get(item.index))
    committed = None
    if written:
        committed = Committed(
            group_id=group_id,
            committed_at=committed_at,
            messages=written,
            by_table=outcome.customers_by_table,
            created_customers=outcome.created_customers,
            event_types=outcome.event_types,
        )
    return reports, committed


# --- group commit -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupCommit:
    """How the committer groups requests: after the first waiting request it waits up to
    ``max_wait`` seconds for more, and takes at most ``max_messages`` messages per group (a
    request is never split). While a group commits, new requests queue up and form the next
    group, so the group size follows the load."""

    max_wait: float = 0.005
    max_messages: int = 10_000

    ENV: ClassVar[Mapping[str, str]] = {
        "max_wait": "SEGMENTUM_INTAKE_WAIT_MS",
        "max_messages": "SEGMENTUM_INTAKE_GROUP",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GroupCommit:
        env = os.environ if environ is None else environ
        wait = env.get(cls.ENV["max_wait"])
        group = env.get(cls.ENV["max_messages"])
        return cls(
            max_wait=float(wait) / 1000 if wait else cls.max_wait,
            max_messages=int(group) if group else cls.max_messages,
        )


Locked = Callable[[], AbstractContextManager[Workspace]]


@dataclass
class _Pending:
    submission: Submission
    future: concurrent.futures.Future[IntakeReport]


class IntakeQueue:
    """Submissions in, reports out after COMMIT; one committer thread per server.

    ``locked`` gives the workspace for one step (the server's lock shared with the worker).
    """

    def __init__(
        self,
        locked: Locked,
        group: GroupCommit | None = None,
        default_region: str | None = None,
    ) -> None:
        self._locked = locked
        self.group = group or GroupCommit()
        self.default_region = default_region
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.groups = 0
        self.committed_messages = 0

    def start(self) -> IntakeQueue:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="segmentum-intake", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is waiting, then stop."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        self._fail_waiting(IntakeUnavailableError("the server is stopping; retry"))

    def submit(self, submission: Submission) -> concurrent.futures.Future[IntakeReport]:
        future: concurrent.futures.Future[IntakeReport] = concurrent.futures.Future()
        if self._stop.is_set() or self._thread is None:
            future.set_exception(IntakeUnavailableError("the intake is not running; retry"))
            return future
        self._queue.put(_Pending(submission, future))
        return future

    def _fail_waiting(self, error: Exception) -> None:
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                return
            if not pending.future.done():
                pending.future.set_exception(error)

    def _collect(self) -> list[_Pending]:
        try:
            first = self._queue.get(timeout=0.05)
        except queue.Empty:
            return []
        group = [first]
        count = len(first.submission.messages)
        deadline = time.monotonic() + self.group.max_wait
        while count < self.group.max_messages:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else (
                    self._queue.get_nowait())  # fmt: skip
            except queue.Empty:
                break
            group.append(item)
            count += len(item.submission.messages)
        return group

    def _run(self) -> None:
        while True:
            group = self._collect()
            if not group:
                if self._stop.is_set():
                    return
                continue
            self._commit(group)

    def _commit(self, group: list[_Pending]) -> None:
        try:
            with self._locked() as ws:
                reports, committed = process(ws, [p.submission for p in group], self.default_region)
                hooks = commit_hooks(ws)
        except Exception as error:
            if len(group) > 1:  # one bad request must not fail the others: one by one
                for pending in group:
                    self._commit([pending])
                return
            log.exception("intake commit failed")
            group[0].future.set_exception(
                IntakeUnavailableError(f"the messages could not be stored ({type(error).__name__})")
            )
            return
        self.groups += 1
        for pending, report in zip(group, reports, strict=True):
            pending.future.set_result(report)
        if committed is not None:
            self.committed_messages += committed.messages
            hooks.publish(committed)


# --- JSON lines (``segmentum ingest``) ----------------------------------------------------------


@dataclass(frozen=True)
class LinesSummary:
    """``accepted`` as the intake acknowledges them (a message sent again is acknowledged
    again: Segment's convention), of which ``duplicates`` were stored before; ``stored``
    the rest, written now."""

    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]]

    @property
    def stored(self) -> int:
        return self.accepted - self.duplicates

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "rejected_messages": self.rejected,
        }


class _UndecodableLineError(Exception):
    def __init__(self, number: int, error: UnicodeDecodeError) -> None:
        super().__init__(f"line {number}: {error.reason}")
        self.number = number
        self.error = error


def _lines(lines: Iterable[str | bytes], encoding: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            try:
                line = line.decode(encoding)
            except UnicodeDecodeError as error:
                raise _UndecodableLineError(number, error) from error
            if number == 1:
                line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError:
            yield number, line


def _check_encoding_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as error:
        raise ServiceError(f"unknown encoding {encoding!r}") from error


def check_encoding(path: Path, encoding: str = "utf-8") -> None:
    """Raise a `ServiceError` naming the first line of ``path`` that is not valid
    ``encoding`` (and, for UTF-8, the likely encoding), before anything is ingested."""
    _check_encoding_name(encoding)
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                data = error.object if isinstance(error.object, bytes) else chunk
                line += data.count(b"\n", 0, error.start)
                guess = guess_encoding(path) if _is_utf8(encoding) else None
                hint = f"; it looks like {guess}" if guess else ""
                raise ServiceError(
                    f"{path}: line {line} is not valid {encoding} ({error.reason}){hint}; "
                    f"nothing was ingested: re-run with --encoding {guess or 'ENCODING'}"
                ) from error
            if not chunk:
                return
            line += chunk.count(b"\n")


def _is_utf8(encoding: str) -> bool:
    return _check_encoding_name(encoding) == "utf-8"


def ingest_lines(
    ws: Workspace,
    lines: Iterable[str | bytes],
    *,
    source: str = "file",
    chunk: int = MAX_BATCH_MESSAGES,
    received_at: Callable[[], datetime] = now_utc,
    default_region: str | None = None,
    encoding: str = "utf-8",
) -> LinesSummary:
    """JSON lines of messages (one message per line; a line holding ``{"batch": [...]}``
    counts as its messages), committed in chunks of ``chunk`` messages exactly as the HTTP
    path does. Rejected messages are reported, and quarantined, by line number.

    Lines given as bytes are decoded with ``encoding``; a line that does not decode stops the
    ingest with a `ServiceError` naming it and what the lines before it committed (the
    messages buffered before it are committed first, so that summary is exact).
    """
    _check_encoding_name(encoding)
    if default_region is not None and not is_known_region(default_region):
        raise ServiceError(f"unknown phone region {default_region!r} (e.g. CZ, RU)")
    accepted = duplicates = 0
    rejected: list[dict[str, Any]] = []
    hooks = commit_hooks(ws)
    buffer: list[tuple[int, Any]] = []

    def flush() -> None:
        nonlocal accepted, duplicates
        if not buffer:
            return
        submission = Submission(
            [m for _, m in buffer],
            received_at(),
            source=source,
            trust_received_at=True,
            row_numbers=[number for number, _ in buffer],
        )
        reports, committed = process(ws, [submission], default_region)
        for ack in reports[0].acks:
            if ack.accepted:
                accepted += 1
                duplicates += int(ack.duplicate)
            else:
                rejected.append({"line": buffer[ack.index][0], **ack.as_dict()})
        buffer.clear()
        if committed is not None:
            hooks.publish(committed)

    try:
        for number, message in _lines(lines, encoding):
            items: list[Any] = [message]
            if isinstance(message, dict) and isinstance(message.get("batch"), list):
                sent_at = message.get("sentAt")
                items = [
                    {**item, "sentAt": sent_at}
                    if isinstance(item, dict) and sent_at is not None and "sentAt" not in item
                    else item
                    for item in message["batch"]
                ]
            for item in items:
                buffer.append((number, item))
                if len(buffer) >= chunk:
                    flush()
    except _UndecodableLineError as error:
        flush()
        raise ServiceError(
            f"line {error.number} is not valid {encoding} ({error.error.reason}); the lines "
            f"before it were ingested (accepted {accepted}, duplicates {duplicates}, rejected "
            f"{len(rejected)}); re-run with --encoding ENCODING (re-sent messages are "
            "duplicates)"
        ) from error
    flush()
    return LinesSummary(accepted, duplicates, rejected)
