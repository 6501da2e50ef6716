"""Regressions from the intake audit: every case a table of input -> exact outcome."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from uvicorn.logging import AccessFormatter

from segmentum.api.app import create_app
from segmentum.api.routers import intake as intake_router
from segmentum.service import keys
from segmentum.service.errors import ServiceError
from segmentum.service.intake import Submission, check_encoding, ingest_lines, process
from segmentum.service.server import ServerSettings
from segmentum.service.workspace import Workspace
from tests.intake.conftest import Shop, basic, query

RECEIVED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(str(tmp_path / "intake.duckdb"))
    yield workspace
    workspace.close()


def sql(ws: Workspace, statement: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in ws.engine.backend.con.execute(statement).fetchall()]


def send(ws: Workspace, messages: list[Any], sent_at: Any = None) -> list[dict[str, Any]]:
    reports, _ = process(ws, [Submission(messages, RECEIVED, sent_at)])
    return [ack.as_dict() for ack in reports[0].acks]


def identify(message_id: str, customer: str, country: str) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": customer,
        "messageId": message_id,
        "traits": {"address": {"country": country}},
    }


# --- 1. a group where no country resolves -------------------------------------------------------


@pytest.mark.parametrize(
    ("countries", "stored", "rejected"),
    [
        (["Polska"], [("C0", "PL")], []),
        (["Nowhere"], [], [0]),
        (["Nowhere", "Polska"], [("C1", "PL")], [0]),
        (["Україна", "Magyarország"], [("C0", "UA"), ("C1", "HU")], []),
    ],
)
def test_countries_in_a_batch(
    ws: Workspace, countries: list[str], stored: list[tuple[str, str]], rejected: list[int]
) -> None:
    acks = send(ws, [identify(f"m{n}", f"C{n}", c) for n, c in enumerate(countries)])
    assert [ack["index"] for ack in acks if "reasons" in ack] == rejected
    assert all(ack["reasons"] == ["bad_country"] for ack in acks if "reasons" in ack)
    assert sql(ws, "SELECT customer_id, country FROM customers ORDER BY 1") == stored


def test_a_batch_with_an_unresolvable_country_is_not_a_poison_batch(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake_router, "now_utc", lambda: RECEIVED)
    with TestClient(create_app(ServerSettings(db=shop.db, worker=False))) as client:
        answer = client.post(
            "/v1/batch",
            json={"batch": [identify("pl-1", "PL1", "Polska"), identify("x-1", "X1", "Nowhere")]},
            headers=basic(shop.keys["ingest"]),
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["accepted"] == [{"index": 0, "messageId": "pl-1"}]
        assert [(r["index"], r["reasons"]) for r in body["rejected"]] == [(1, ["bad_country"])]
        assert query(client.app, "SELECT customer_id, country FROM customers") == [  # type: ignore[arg-type]
            ("PL1", "PL")
        ]


# --- 2a. a subscription's changed_at in a batch -------------------------------------------------


def subscription(message_id: str, status: str, changed_at: str | None, **extra: Any) -> Any:
    message = {
        "type": "subscription",
        "userId": "C1",
        "messageId": message_id,
        "channel": "sms",
        "status": status,
        **extra,
    }
    if changed_at is not None:
        message["changed_at"] = changed_at
    return message


@pytest.mark.parametrize(
    ("batches", "state"),
    [
        # a newer opt-out first, then an old opt-in (arriving later): the opt-out stays
        (
            [
                [subscription("s1", "opted_out", "2025-05-01T00:00:00Z")],
                [subscription("s2", "opted_in", "2024-01-01T00:00:00Z")],
            ],
            ("opted_out", datetime(2025, 5, 1)),
        ),
        # both in one batch, the old one last
        (
            [
                [
                    subscription("s1", "opted_out", "2025-05-01T00:00:00Z"),
                    subscription("s2", "opted_in", "2024-01-01T00:00:00Z"),
                ]
            ],
            ("opted_out", datetime(2025, 5, 1)),
        ),
        # changed_at wins over the SDK's timestamp
        (
            [
                [
                    subscription(
                        "s1", "opted_in", "2024-01-01T00:00:00Z", timestamp="2025-06-01T11:00:00Z"
                    )
                ]
            ],
            ("opted_in", datetime(2024, 1, 1)),
        ),
        # no changed_at: the timestamp, else the receipt
        (
            [[subscription("s1", "pending", None, timestamp="2025-06-01T11:00:00Z")]],
            ("pending", datetime(2025, 6, 1, 11)),
        ),
        ([[subscription("s1", "pending", None)]], ("pending", datetime(2025, 6, 1, 12))),
    ],
)
def test_batch_subscriptions_honour_changed_at(
    ws: Workspace, batches: list[list[Any]], state: tuple[str, datetime]
) -> None:
    for batch in batches:
        assert all("reasons" not in ack for ack in send(ws, batch))
    assert sql(ws, "SELECT status, changed_at FROM subscriptions") == [state]


@pytest.mark.parametrize(
    ("changed_at", "sent_at", "reasons"),
    [
        ("2099-01-01T00:00:00Z", None, ["future_timestamp"]),
        ("2025-06-02T12:00:01Z", None, ["future_timestamp"]),
        ("2025-06-02T12:00:00Z", None, None),
        # the client's clock is a week fast: corrected, accepted
        ("2025-06-08T12:00:00Z", "2025-06-08T12:00:00Z", None),
        ("yesterday", None, ["bad_date"]),
    ],
)
def test_batch_subscription_changed_at_future_and_skew_rules(
    ws: Workspace, changed_at: str, sent_at: str | None, reasons: list[str] | None
) -> None:
    (ack,) = send(ws, [subscription("s1", "opted_in", changed_at)], sent_at)
    assert ack.get("reasons") == reasons


def test_ingest_lines_honours_changed_at(ws: Workspace) -> None:
    lines = [
        '{"type":"subscription","userId":"C1","messageId":"a","channel":"email",'
        '"status":"opted_out","changed_at":"2025-05-01T00:00:00Z"}',
        '{"type":"subscription","userId":"C1","messageId":"b","channel":"email",'
        '"status":"opted_in","changed_at":"2024-05-01T00:00:00Z"}',
    ]
    summary = ingest_lines(ws, lines, received_at=lambda: RECEIVED)
    assert (summary.accepted, len(summary.rejected)) == (2, 0)
    assert sql(ws, "SELECT status, changed_at FROM subscriptions") == [
        ("opted_out", datetime(2025, 5, 1))
    ]


@pytest.mark.parametrize(
    ("region", "error"),
    [("XX", "unknown phone region 'XX' (e.g. CZ, RU)"), ("Czech", "unknown phone region 'Czech'")],
)
def test_ingest_lines_refuses_an_unknown_region_before_reading(
    ws: Workspace, region: str, error: str
) -> None:
    line = '{"type":"identify","userId":"C1","messageId":"r1","traits":{"phone":"601123456"}}'
    with pytest.raises(ServiceError, match=re.escape(error)):
        ingest_lines(ws, [line], received_at=lambda: RECEIVED, default_region=region)
    assert sql(ws, "SELECT count(*) FROM customers WHERE customer_id = 'C1'") == [(0,)]


@pytest.mark.parametrize("region", ["CZ", "cz", "PL"])
def test_ingest_lines_accepts_a_known_region(ws: Workspace, region: str) -> None:
    line = '{"type":"identify","userId":"C1","messageId":"r1","traits":{"phone":"601123456"}}'
    summary = ingest_lines(ws, [line], received_at=lambda: RECEIVED, default_region=region)
    assert summary.accepted == 1


# --- 4. order item quantities -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "stored", "reasons"),
    [
        (2, 2, None),
        (2.0, 2, None),
        ("3", 3, None),
        (2.7, None, ["bad_number"]),
        (1.5, None, ["bad_number"]),
        ("0x10", None, ["bad_number"]),
        ("1_000", None, ["bad_number"]),
        ("1e2", None, ["bad_number"]),
        (-1, None, ["bad_number"]),
    ],
)
def test_order_item_quantity_must_be_whole(
    ws: Workspace, quantity: Any, stored: int | None, reasons: list[str] | None
) -> None:
    message = {
        "type": "track",
        "userId": "C1",
        "messageId": "o1",
        "event": "Order Completed",
        "timestamp": "2025-06-01T10:00:00Z",
        "properties": {
            "order_id": "O1",
            "total": 10,
            "products": [{"product_id": "P1", "price": 5, "quantity": quantity}],
        },
    }
    (ack,) = send(ws, [message])
    assert ack.get("reasons") == reasons
    expected = [(stored,)] if stored is not None else []
    assert sql(ws, "SELECT quantity FROM order_items") == expected


# --- 6, 10. segmentum ingest: encodings and line numbers ----------------------------------------


def _line(message_id: str, country: str = "CZ", name: str = "Jan") -> str:
    return (
        f'{{"type":"identify","userId":"{message_id.upper()}","messageId":"{message_id}",'
        f'"traits":{{"firstName":"{name}","address":{{"country":"{country}"}}}}}}'
    )


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        (1, [(3, "bad_country"), (6, "bad_message"), (8, "bad_country")]),
        (2, [(3, "bad_country"), (6, "bad_message"), (8, "bad_country")]),
        (100, [(3, "bad_country"), (6, "bad_message"), (8, "bad_country")]),
    ],
)
def test_ingest_quarantine_row_numbers_are_file_lines(
    ws: Workspace, chunk: int, expected: list[tuple[int, str]]
) -> None:
    lines = [
        _line("a"),  # 1
        _line("b"),  # 2
        _line("c", "Nowhere"),  # 3
        "",  # 4
        _line("d"),  # 5
        "{not json",  # 6
        _line("e"),  # 7
        _line("f", "Atlantis"),  # 8
    ]
    summary = ingest_lines(ws, lines, chunk=chunk, received_at=lambda: RECEIVED)
    assert (summary.accepted, [r["line"] for r in summary.rejected]) == (4, [3, 6, 8])
    assert sql(ws, "SELECT row_number, reasons FROM quarantine ORDER BY row_number") == expected


def test_ingest_bytes_lines_decode_and_stop_at_an_undecodable_line(ws: Workspace) -> None:
    lines = [
        _line("a", name="Šárka").encode("utf-8"),
        _line("b").encode("utf-8"),
        _line("c", name="Иван").encode("cp1251"),
        _line("d").encode("utf-8"),
    ]
    with pytest.raises(ServiceError) as error:
        ingest_lines(ws, lines, chunk=1, received_at=lambda: RECEIVED)
    assert str(error.value) == (
        "line 3 is not valid utf-8 (invalid continuation byte); the lines before it were "
        "ingested (accepted 2, duplicates 0, rejected 0); re-run with --encoding ENCODING "
        "(re-sent messages are duplicates)"
    )
    assert sql(ws, "SELECT customer_id, first_name FROM customers ORDER BY 1") == [
        ("A", "Šárka"),
        ("B", "Jan"),
    ]
    fixed = [*lines[:2], _line("c", name="Иван").encode("utf-8"), lines[3]]
    summary = ingest_lines(ws, fixed, received_at=lambda: RECEIVED)
    assert (summary.accepted, summary.duplicates, summary.rejected) == (4, 2, [])
    assert sql(ws, "SELECT customer_id, first_name FROM customers ORDER BY 1") == [
        ("A", "Šárka"),
        ("B", "Jan"),
        ("C", "Иван"),
        ("D", "Jan"),
    ]


@pytest.mark.parametrize(
    ("content", "encoding", "message"),
    [
        (
            (_line("a") + "\n" + _line("b") + "\n\n" + _line("c", name="Иван")).encode("cp1251"),
            "utf-8",
            "{path}: line 4 is not valid utf-8 (invalid continuation byte); it looks like "
            "cp1251; nothing was ingested: re-run with --encoding cp1251",
        ),
        ((_line("a") + "\n").encode("utf-8"), "utf-8", None),
        ((_line("c", name="Иван") + "\n").encode("cp1251"), "cp1251", None),
        (b"{}\n", "no-such-codec", "unknown encoding 'no-such-codec'"),
    ],
)
def test_check_encoding(tmp_path: Path, content: bytes, encoding: str, message: str | None) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(content)
    if message is None:
        check_encoding(path, encoding)
        return
    with pytest.raises(ServiceError) as error:
        check_encoding(path, encoding)
    assert str(error.value) == message.format(path=path)


# --- 11. log redaction keeps uvicorn's access-log arguments -------------------------------------


KEY = "sgm_0123456789ab_" + "A" * 43


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/v1/batch", "/v1/batch"),
        (f"/v1/batch?key={KEY}", "/v1/batch?key=[redacted]"),
        ("/c?phone=%2B420601123456", "/c?phone=[redacted]"),
        ("/c?phone=+420601123456&x=1", "/c?phone=[redacted]&x=1"),
        ("/c?phone=%2B420%20601%20123%20456", "/c?phone=[redacted]"),
        ("/c?order=12345678901", "/c?order=12345678901"),
    ],
)
def test_access_log_lines_are_redacted_and_still_format(path: str, shown: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    )
    handler.addFilter(keys.KeyRedactingFilter())
    logger = logging.getLogger("test.audit.access")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == f'127.0.0.1:5000 - "GET {shown} HTTP/1.1" 200 OK\n'


@pytest.mark.parametrize(
    ("msg", "args", "shown"),
    [
        ("key %s", (KEY,), "key [redacted]"),
        (f"key {KEY} %d", (3,), "key [redacted] 3"),
        ("%(who)s called", {"who": "+420601123456"}, "[redacted] called"),
        ("Authorization: %s", ("Bearer abc.def",), "Authorization: Bearer [redacted]"),
        ("plain %s %d", ("x", 1), "plain x 1"),
    ],
)
def test_redacting_filter_keeps_the_args_shape(msg: str, args: Any, shown: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, msg, None, None)
    record.args = args
    assert keys.KeyRedactingFilter().filter(record)
    assert type(record.args) is type(args)
    assert record.getMessage() == shown
