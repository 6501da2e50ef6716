"""The real-time processor caps its micro-batches: customers beyond ``max_batch`` wait for
the next batch (oldest first), every customer is applied once, and a commit's latency is
recorded once, when the last of its customers is applied."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from segmentum.service import realtime
from segmentum.service.intake import Committed
from segmentum.service.membership import refresh_segments
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.workspace import Workspace
from tests.automations.shop import add_customer

IDS = [f"C{n}" for n in range(1, 8)]


def _committed(group: str, ids: list[str], at: datetime) -> Committed:
    return Committed(group, at, len(ids), {"customers": frozenset(ids)}, frozenset(), frozenset())


def test_batches_are_capped_and_every_commit_is_measured_once(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ws = Workspace.open(str(tmp_path / "shop.duckdb"))
    for cid in IDS:
        add_customer(ws, cid, now - timedelta(days=10))
    where = {"attribute": {"field": "country", "eq": "CZ"}}
    create_segment(ws, "everyone", DefinitionSource(data={"where": where}))
    refresh_segments(ws, at=now)
    ws.store.execute("DELETE FROM segment_members")  # the processor must put them back
    lock = threading.Lock()

    @contextmanager
    def locked() -> Iterator[Workspace]:
        with lock:
            yield ws

    processor = realtime.RealtimeProcessor(locked, max_batch=3)
    # both commits queued before the first batch is taken
    processor.submit(_committed("g1", IDS[:5], now))
    processor.submit(_committed("g2", IDS[3:], now))
    processor.start(ws)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and processor.stats()["commits"] < 2:
            time.sleep(0.05)
        stats = processor.stats()
    finally:
        processor.stop()

    assert stats["customers"] == len(IDS)  # C4 and C5 of both commits: applied once
    assert stats["batches"] == 3  # 3 + 3 + 1
    assert stats["commits"] == 2
    with locked() as held:
        members = held.store.query(
            "SELECT customer_id FROM segment_members WHERE segment = 'everyone' ORDER BY 1"
        )
    assert [row["customer_id"] for row in members] == IDS
