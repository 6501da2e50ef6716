"""The server's key cache (``service.keys.KeyRing``): one reload of an expired key at a time,
the others served the expired entry meanwhile, and a revocation never undone by a reload."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

import pytest

from segmentum.service.keys import KeyRing
from segmentum.store.keys import StoredKey

KEY = StoredKey("0123456789ab", "shop", "ingest", "h" * 64, datetime(2026, 1, 1), None)
REVOKED = replace(KEY, revoked_at=datetime(2026, 1, 2))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Answers ``answers`` in turn and counts calls; ``hold`` keeps a call waiting."""

    def __init__(self, *answers: StoredKey | None) -> None:
        self.answers = list(answers)
        self.calls = 0
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def __call__(self, key_id: str) -> StoredKey | None:
        self.calls += 1
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(10)
        return self.answers.pop(0)


def _ring() -> tuple[KeyRing, Clock]:
    clock = Clock()
    return KeyRing(seconds=5.0, stale_seconds=30.0, clock=clock), clock


@pytest.mark.parametrize(
    ("age", "loads"),
    [(0.0, 0), (4.9, 0), (5.0, 1), (31.0, 1)],
)
def test_a_cached_key_is_reloaded_once_expired(age: float, loads: int) -> None:
    ring, clock = _ring()
    loader = Loader(KEY, KEY)
    assert ring.lookup(KEY.key_id, loader) == KEY
    clock.now += age
    assert ring.lookup(KEY.key_id, loader) == KEY
    assert loader.calls == 1 + loads


@pytest.mark.parametrize(
    ("age", "second_gets", "second_loads"),
    [
        # expired, one reload in flight: the others keep the expired entry, no second load
        (6.0, KEY, 0),
        (29.9, KEY, 0),
        # too old to serve: the second request loads itself
        (30.0, REVOKED, 1),
    ],
)
def test_while_one_request_reloads_the_others_keep_the_expired_entry(
    age: float, second_gets: StoredKey, second_loads: int
) -> None:
    ring, clock = _ring()
    assert ring.lookup(KEY.key_id, Loader(KEY)) == KEY
    clock.now += age
    slow = Loader(REVOKED)
    slow.hold = threading.Event()
    results: list[StoredKey | None] = []
    first = threading.Thread(target=lambda: results.append(ring.lookup(KEY.key_id, slow)))
    first.start()
    assert slow.entered.wait(10)
    other = Loader(REVOKED)
    assert ring.lookup(KEY.key_id, other) == second_gets
    assert other.calls == second_loads
    slow.hold.set()
    first.join(10)
    assert results == [REVOKED]
    # the reload's answer is what everyone sees next
    assert ring.lookup(KEY.key_id, Loader()) == REVOKED


def test_a_revocation_during_a_reload_is_not_undone_by_it() -> None:
    ring, clock = _ring()
    assert ring.lookup(KEY.key_id, Loader(KEY)) == KEY
    clock.now += 6.0
    slow = Loader(KEY)
    slow.hold = threading.Event()
    first = threading.Thread(target=lambda: ring.lookup(KEY.key_id, slow))
    first.start()
    assert slow.entered.wait(10)
    ring.forget(KEY.key_id)  # ``revoke_key`` in this process
    slow.hold.set()
    first.join(10)
    after = Loader(REVOKED)
    assert ring.lookup(KEY.key_id, after) == REVOKED
    assert after.calls == 1


def test_a_failed_reload_lets_the_next_request_try() -> None:
    ring, clock = _ring()
    assert ring.lookup(KEY.key_id, Loader(KEY)) == KEY
    clock.now += 6.0

    def broken(key_id: str) -> StoredKey | None:
        raise RuntimeError("store unavailable")

    with pytest.raises(RuntimeError, match="store unavailable"):
        ring.lookup(KEY.key_id, broken)
    retry = Loader(REVOKED)
    assert ring.lookup(KEY.key_id, retry) == REVOKED
    assert retry.calls == 1
