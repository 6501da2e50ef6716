"""The policy gate: exact decisions, quiet hours across zones and DST, caps, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentum.campaigns.policy import Policy, address_hash, gate
from segmentum.campaigns.schedule import localize, next_allowed
from segmentum.catalog.settings import FrequencyCap, QuietHours
from segmentum.compiler.bucket import bucket_python

T0 = datetime(2026, 5, 4, 10, 0)


def _candidates(rows: list[dict[str, object]]) -> pa.Table:
    base = {"channel": "sms", "timezone": "Europe/Prague", "country": "CZ", "due_at": T0,
            "holdout_pct": 0, "holdout_seed": "c"}  # fmt: skip
    full = [{**base, "message_key": f"k{r['customer_id']}", **r} for r in rows]
    return pa.Table.from_pylist(full)


def _subs(rows: list[tuple[str, str, datetime]]) -> pa.Table:
    return pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "channel": ["sms"] * len(rows),
            "status": [r[1] for r in rows],
            "changed_at": pa.array([r[2] for r in rows], pa.timestamp("us")),
        }
    )


def _decide(table: pa.Table) -> dict[str, tuple[str, str | None]]:
    return {r["customer_id"]: (r["decision"], r["reason"]) for r in table.to_pylist()}


def test_consent_suppression_and_address() -> None:
    cands = _candidates(
        [
            {"customer_id": "a", "recipient": "+420700000001"},
            {"customer_id": "b", "recipient": "+420700000002"},
            {"customer_id": "c", "recipient": "+420700000003"},
            {"customer_id": "d", "recipient": None},
            {"customer_id": "e", "recipient": "+420700000005"},
        ]
    )
    subs = _subs(
        [
            ("a", "opted_in", datetime(2026, 1, 1)),
            ("b", "opted_in", datetime(2026, 1, 1)),
            ("b", "opted_out", datetime(2026, 2, 1)),  # newest wins
            ("c", "opted_in", datetime(2026, 1, 1)),
            ("d", "opted_in", datetime(2026, 1, 1)),
        ]
    )
    supp = pa.table({"channel": ["sms"], "address_hash": [address_hash("+420700000003")]})
    result = _decide(gate(cands, subs, supp, None, Policy(timezone="Europe/Prague")))
    assert result == {
        "a": ("send", None),
        "b": ("skip", "no_consent"),
        "c": ("skip", "suppressed"),
        "d": ("skip", "no_address"),
        "e": ("skip", "no_consent"),
    }


def test_holdout_uses_the_md5_bucket_rule_after_consent() -> None:
    ids = [f"C{i:04d}" for i in range(200)]
    draw = {"holdout_pct": 20, "holdout_seed": "spring"}
    cands = _candidates(
        [{"customer_id": c, "recipient": f"+42070{i:07d}", **draw} for i, c in enumerate(ids)]
    )
    subs = _subs([(c, "opted_in" if i % 2 else "opted_out", T0) for i, c in enumerate(ids)])
    result = gate(cands, subs, None, None, Policy()).to_pylist()
    held = {r["customer_id"] for r in result if r["reason"] == "held_out"}
    expected = {c for i, c in enumerate(ids) if i % 2 and bucket_python("spring", c, 100) < 20}
    assert held == expected
    assert all(r["eligible"] == (int(r["customer_id"][1:]) % 2 == 1) for r in result)


def test_quiet_hours_defer_to_the_next_allowed_minute_in_each_zone() -> None:
    due = datetime(2026, 5, 4, 19, 30)  # UTC: 21:30 in Prague, 15:30 in New York, 04:30 Tokyo
    cands = _candidates(
        [
            {"customer_id": "prague", "recipient": "+1", "due_at": due},
            {"customer_id": "ny", "recipient": "+2", "due_at": due,
             "timezone": "America/New_York", "country": "US"},
            {"customer_id": "tokyo", "recipient": "+3", "due_at": due,
             "timezone": "Asia/Tokyo", "country": "JP"},
            {"customer_id": "nozone", "recipient": "+4", "due_at": due, "timezone": None},
        ]
    )  # fmt: skip
    subs = _subs([(c, "opted_in", T0) for c in ("prague", "ny", "tokyo", "nozone")])
    policy = Policy(
        timezone="UTC",
        quiet_hours_by_country={"US": QuietHours(start="09:00", end="20:00")},
    )
    result = {r["customer_id"]: (r["decision"], r["send_at"]) for r in
              gate(cands, subs, None, None, policy).to_pylist()}  # fmt: skip
    assert result == {
        "prague": ("defer", datetime(2026, 5, 5, 6, 0)),  # 08:00 CEST
        "ny": ("send", due),
        "tokyo": ("defer", datetime(2026, 5, 4, 23, 0)),  # 08:00 JST
        "nozone": ("send", due),  # workspace zone UTC: 19:30 is allowed
    }


def test_dst_gap_moves_to_the_first_valid_minute_and_folds_use_the_first() -> None:
    prague = ZoneInfo("Europe/Prague")
    gap = localize(datetime(2026, 3, 29, 2, 30), prague)
    assert gap == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert localize(datetime(2026, 10, 25, 2, 30), prague) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    # quiet hours opening inside a gap: allowed from 02:30 → the gap ends at 03:00 local
    opened = next_allowed(datetime(2026, 3, 29, 0, 0, tzinfo=UTC), prague, "02:30", "21:00")
    assert opened == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_frequency_caps_count_recent_messages_and_the_batch() -> None:
    cands = _candidates(
        [{"customer_id": c, "recipient": f"+{i}"} for i, c in enumerate(("a", "b", "c"))]
    )
    subs = _subs([(c, "opted_in", T0) for c in ("a", "b", "c")])
    recent = pa.table(
        {
            "customer_id": ["a", "b", "b", "c"],
            "channel": ["sms"] * 4,
            "at": pa.array([T0 - timedelta(hours=5), T0 - timedelta(hours=30),
                            T0 - timedelta(hours=60), T0 - timedelta(hours=200)],
                           pa.timestamp("us")),
        }
    )  # fmt: skip
    caps = (FrequencyCap(channel="sms", max_messages=1, per_hours=24),
            FrequencyCap(channel="sms", max_messages=2, per_hours=168))  # fmt: skip
    result = _decide(gate(cands, subs, None, recent, Policy(frequency_caps=caps)))
    assert result == {
        "a": ("skip", "frequency_cap"),
        "b": ("skip", "frequency_cap"),
        "c": ("send", None),
    }


ZONES = ["Europe/Prague", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/St_Johns", None]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(ZONES),
            st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)),
        ),
        min_size=1,
        max_size=15,
    )
)
def test_quiet_hours_hold_in_every_zone(rows: list[tuple[str | None, datetime]]) -> None:
    cands = _candidates(
        [{"customer_id": f"c{i}", "recipient": "+1", "timezone": tz, "due_at": due}
         for i, (tz, due) in enumerate(rows)]
    )  # fmt: skip
    subs = _subs([(f"c{i}", "opted_in", T0) for i in range(len(rows))])
    result = gate(cands, subs, None, None, Policy(timezone="Europe/Prague")).to_pylist()
    for row, (tz, due) in zip(sorted(result, key=lambda r: int(r["customer_id"][1:])), rows,
                              strict=True):  # fmt: skip
        local = row["send_at"].replace(tzinfo=UTC).astimezone(ZoneInfo(tz or "Europe/Prague"))
        assert "08:00" <= local.strftime("%H:%M") < "21:00"
        assert row["send_at"] >= due
        assert row["send_at"] - due < timedelta(hours=13)  # next morning at the latest


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["opt_in", "opt_out", "stop", "erase", "reimport"]),
        st.integers(min_value=0, max_value=5),
    ),
    max_size=30,
)


@settings(max_examples=80, deadline=None)
@given(EVENTS)
def test_opted_out_or_suppressed_customers_receive_nothing(
    events: list[tuple[str, int]],
) -> None:
    """A model of consent history; the gate must never send to anyone whose newest consent
    is not opted_in or whose number was suppressed (STOP, erasure)."""
    subs: list[tuple[str, str, datetime]] = []
    suppressed: set[str] = set()
    present = dict.fromkeys(range(6), True)
    for step, (kind, who) in enumerate(events):
        at = T0 + timedelta(minutes=step)
        cid, phone = f"c{who}", f"+4207000000{who}"
        if kind == "opt_in":
            subs.append((cid, "opted_in", at))
        elif kind in ("opt_out", "stop"):
            subs.append((cid, "opted_out", at))
            if kind == "stop":
                suppressed.add(address_hash(phone))
        elif kind == "erase":
            subs = [s for s in subs if s[0] != cid]
            suppressed.add(address_hash(phone))
            present[who] = False
        else:  # a re-import of an old file: opted_in with an old timestamp, customer back
            subs.append((cid, "opted_in", T0 - timedelta(days=400)))
            present[who] = True
    cands = _candidates(
        [{"customer_id": f"c{i}", "recipient": f"+4207000000{i}"} for i in range(6) if present[i]]
    )
    supp = pa.table({"channel": ["sms"] * len(suppressed), "address_hash": sorted(suppressed)})
    result = gate(cands, _subs(subs), supp, None, Policy()).to_pylist()
    for row in result:
        if row["decision"] == "skip":
            continue
        cid = row["customer_id"]
        newest = max((s for s in subs if s[0] == cid), key=lambda s: s[2])
        assert newest[1] == "opted_in"
        assert address_hash(f"+4207000000{cid[1:]}") not in suppressed


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=1, max_value=48),
)
def test_caps_hold_across_overlapping_campaigns(
    offsets_hours: list[int], max_messages: int, per_hours: int
) -> None:
    """Campaigns planned one after another for one customer, each seeing the earlier ones:
    no window of ``per_hours`` ever holds more than ``max_messages`` sent messages."""
    cap = FrequencyCap(channel="sms", max_messages=max_messages, per_hours=per_hours)
    sent: list[datetime] = []
    subs = _subs([("a", "opted_in", T0 - timedelta(days=1))])
    for offset in offsets_hours:
        due = T0 + timedelta(hours=offset)
        recent = pa.table({"customer_id": ["a"] * len(sent), "channel": ["sms"] * len(sent),
                           "at": pa.array(sent, pa.timestamp("us"))})  # fmt: skip
        cands = _candidates([{"customer_id": "a", "recipient": "+1", "due_at": due}])
        row = gate(cands, subs, None, recent, Policy(frequency_caps=(cap,))).to_pylist()[0]
        if row["decision"] == "send":
            sent.append(row["send_at"])
    for start in sent:
        window = [t for t in sent if start <= t < start + timedelta(hours=per_hours)]
        assert len(window) <= max_messages
