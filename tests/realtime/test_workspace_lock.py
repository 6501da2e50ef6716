"""The server's workspace lock serves an urgent waiter (the real-time micro-batches) before
ordinary ones, and otherwise behaves as a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from segmentum.service.workspace_lock import WorkspaceLock


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _holder(lock: WorkspaceLock, name: str, urgent: bool, order: list[str]) -> threading.Thread:
    def run() -> None:
        with lock.held(urgent):
            order.append(name)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("arrivals", "served"),
    [
        # (name, urgent) in the order they start waiting while the lock is held
        ([("intake", False), ("realtime", True)], ["realtime", "intake"]),
        ([("realtime", True), ("intake", False)], ["realtime", "intake"]),
        ([("intake", False), ("worker", False), ("realtime", True)], ["realtime", "*", "*"]),
        ([("a", True), ("b", True)], ["*", "*"]),  # urgent among themselves: either first
    ],
)
def test_urgent_waiters_are_served_first(
    arrivals: list[tuple[str, bool]], served: list[str]
) -> None:
    lock = WorkspaceLock()
    order: list[str] = []
    threads = []
    release = threading.Event()
    holding = threading.Event()

    def first() -> None:
        with lock.held():
            holding.set()
            assert release.wait(10)

    owner = threading.Thread(target=first)
    owner.start()
    assert holding.wait(10)
    for count, (name, urgent) in enumerate(arrivals, start=1):
        threads.append(_holder(lock, name, urgent, order))
        _wait_for(lambda count=count: lock.waiting == count)
    release.set()
    for thread in [owner, *threads]:
        thread.join(10)
    assert len(order) == len(arrivals)
    assert sorted(order) == sorted(name for name, _ in arrivals)
    assert [
        name if expected != "*" else "*" for name, expected in zip(order, served, strict=True)
    ] == served


def test_an_exception_inside_releases_the_lock() -> None:
    lock = WorkspaceLock()
    with pytest.raises(RuntimeError, match="inside"), lock.held(urgent=True):
        raise RuntimeError("inside")
    done = threading.Event()

    def later() -> None:
        with lock.held():
            done.set()

    thread = threading.Thread(target=later)
    thread.start()
    assert done.wait(10)
    thread.join(10)
    assert lock.waiting == 0
