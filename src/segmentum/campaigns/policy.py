"""The policy gate: the one function every send path calls (campaigns, test sends, automations),
and its consent rules again at delivery (``recheck``, which the worker calls on every claim).

``gate`` decides in bulk over Arrow tables inside an in-process DuckDB: consent (the
customer's newest ``subscriptions`` row for the channel must be ``opted_in``; no row means no
consent), the suppression list (hashed addresses), holdout (md5 bucket after the consent
filter), quiet hours in the recipient's zone (deferral to the next allowed minute) and
frequency caps (messages queued, sending, sent or delivered in a rolling window). Nothing here
loops over customers in Python: per-value work is limited to the distinct (instant, zone,
country) triples for quiet hours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from segmentum.campaigns.schedule import next_allowed, zone
from segmentum.catalog.settings import FrequencyCap, QuietHours

#: Skip reasons, in the order the gate checks them.
SKIP_REASONS: tuple[str, ...] = (
    "no_address",
    "no_consent",
    "suppressed",
    "held_out",
    "frequency_cap",
    "budget",
    "render_error",
    "cancelled",
)

#: Columns ``gate`` needs in its candidates table.
CANDIDATE_SCHEMA = pa.schema(
    [
        ("message_key", pa.string()),
        ("customer_id", pa.string()),
        ("channel", pa.string()),
        ("recipient", pa.string()),
        ("timezone", pa.string()),
        ("country", pa.string()),
        ("due_at", pa.timestamp("us")),
        ("holdout_pct", pa.int32()),
        ("holdout_seed", pa.string()),
    ]
)
SUBSCRIPTIONS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("channel", pa.string()),
        ("status", pa.string()),
        ("changed_at", pa.timestamp("us")),
    ]
)
RECENT_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("channel", pa.string()), ("at", pa.timestamp("us"))]
)
SUPPRESSION_SCHEMA = pa.schema([("channel", pa.string()), ("address_hash", pa.string())])


def normalize_address(address: str) -> str:
    """Emails compare case-insensitively; phones are E.164 already."""
    return address.strip().lower()


def address_hash(address: str) -> str:
    """The suppression list's key: sha256 of the normalised address (DuckDB's sha256 twin)."""
    return hashlib.sha256(normalize_address(address).encode()).hexdigest()


@dataclass(frozen=True)
class Policy:
    """What the gate needs from the workspace settings."""

    timezone: str = "UTC"
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    quiet_hours_by_country: Mapping[str, QuietHours] = field(default_factory=dict)
    frequency_caps: Sequence[FrequencyCap] = ()
    #: False for test sends to the seed list (not customers): consent does not apply.
    require_consent: bool = True
    #: What a capped message gets: "skip" (campaigns) or "defer" (automations, by the window).
    on_cap: str = "skip"


def _conform(table: pa.Table | None, schema: pa.Schema) -> pa.Table:
    if table is None or table.num_rows == 0:
        return schema.empty_table()
    return table.select(schema.names).cast(schema)


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _quiet_times(pairs: pa.Table, policy: Policy) -> pa.Table:
    """For each distinct (due_at, timezone, country) the first allowed instant at or after it."""
    due = pairs.column("due_at").to_pylist()
    zones = pairs.column("timezone").to_pylist()
    countries = pairs.column("country").to_pylist()
    send_at = []
    for instant, zone_name, country in zip(due, zones, countries, strict=True):
        window = policy.quiet_hours_by_country.get((country or "").upper(), policy.quiet_hours)
        aware = instant.replace(tzinfo=UTC)
        allowed_at = next_allowed(aware, zone(zone_name, policy.timezone), window.start,
                                  window.end)  # fmt: skip
        send_at.append(_naive(allowed_at))
    return pairs.append_column("send_at", pa.array(send_at, pa.timestamp("us")))


#: The newest consent row per customer and channel (the gate's ``subs`` relation).
_CONSENT = """WITH consent AS (
    SELECT customer_id, channel, arg_max(status, changed_at) AS status
    FROM subs GROUP BY customer_id, channel
)"""


def _refusal(require_consent: bool) -> str:
    """The ``WHEN`` arms refusing a message ``c`` (joined with its ``consent`` row ``s``):
    no address, no consent (newest row not ``opted_in``), a suppressed address."""
    require = "TRUE" if require_consent else "FALSE"
    return f"""WHEN c.recipient IS NULL OR trim(c.recipient) = '' THEN 'no_address'
        WHEN {require} AND coalesce(s.status, '') <> 'opted_in' THEN 'no_consent'
        WHEN EXISTS (SELECT 1 FROM supp p WHERE p.channel = c.channel
            AND p.address_hash = sha256(lower(trim(c.recipient)))) THEN 'suppressed'"""


#: What ``recheck`` needs of each claimed message.
CLAIMED_SCHEMA = pa.schema(
    [
        ("message_key", pa.string()),
        ("customer_id", pa.string()),
        ("channel", pa.string()),
        ("recipient", pa.string()),
    ]
)
REFUSED_SCHEMA = pa.schema([("message_key", pa.string()), ("reason", pa.string())])


def recheck(
    claimed: pa.Table, subscriptions: pa.Table | None, suppressions: pa.Table | None
) -> pa.Table:
    """The claimed messages that may no longer go out, with the reason (``no_address``,
    ``no_consent``, ``suppressed``): the gate's own consent and suppression rules, applied
    again at delivery, so an opt-out, a STOP reply, a hard bounce or an erasure that comes
    after a message was planned (and while it waits for quiet hours or a retry) stops it."""
    rows = _conform(claimed, CLAIMED_SCHEMA)
    if rows.num_rows == 0:
        return REFUSED_SCHEMA.empty_table()
    con = duckdb.connect()
    try:
        con.register("c_rows", rows)
        con.register("subs", _conform(subscriptions, SUBSCRIPTIONS_SCHEMA))
        con.register("supp", _conform(suppressions, SUPPRESSION_SCHEMA))
        refused = con.execute(
            f"""
            {_CONSENT}
            SELECT message_key, reason FROM (
                SELECT c.message_key, CASE {_refusal(True)} END AS reason
                FROM c_rows c LEFT JOIN consent s
                    ON s.customer_id = c.customer_id AND s.channel = c.channel
            ) WHERE reason IS NOT NULL ORDER BY message_key
            """
        ).fetch_arrow_table()
    finally:
        con.close()
    return refused.cast(REFUSED_SCHEMA)


def gate(
    candidates: pa.Table,
    subscriptions: pa.Table | None,
    suppressions: pa.Table | None,
    recent: pa.Table | None,
    policy: Policy,
) -> pa.Table:
    """Decide every candidate message at once.

    Returns the candidates' ``message_key`` and ``customer_id`` with ``decision`` (send / skip /
    defer), ``reason`` (a skip reason, or ``quiet_hours`` / ``frequency_cap`` for deferrals),
    ``eligible`` (passed address, consent and suppression: the holdout denominator),
    ``held_out`` and ``send_at`` (naive UTC; later than ``due_at`` when deferred).
    """
    cands = _conform(candidates, CANDIDATE_SCHEMA)
    subs = _conform(subscriptions, SUBSCRIPTIONS_SCHEMA)
    supp = _conform(suppressions, SUPPRESSION_SCHEMA)
    rec = _conform(recent, RECENT_SCHEMA)
    con = duckdb.connect()
    try:
        con.register("cands", cands)
        con.register("subs", subs)
        con.register("supp", supp)
        con.register("rec", rec)
        con.execute(
            f"""
            CREATE TEMP TABLE checked AS
            {_CONSENT}
            SELECT c.*,
                CASE
                    {_refusal(policy.require_consent)}
                    WHEN coalesce(c.holdout_pct, 0) > 0 AND CAST('0x' || substr(md5(
                        c.holdout_seed || ':' || c.customer_id), 1, 8) AS UBIGINT) % 100
                        < c.holdout_pct THEN 'held_out'
                END AS early_reason
            FROM cands c LEFT JOIN consent s
                ON s.customer_id = c.customer_id AND s.channel = c.channel
            """
        )
        pairs = con.execute(
            "SELECT DISTINCT due_at, timezone, country FROM checked WHERE early_reason IS NULL"
        ).fetch_arrow_table()
        con.register("quiet", _quiet_times(pairs, policy))
        con.execute(
            """
            CREATE TEMP TABLE timed AS
            SELECT k.*, coalesce(q.send_at, k.due_at) AS send_at
            FROM checked k LEFT JOIN quiet q ON q.due_at = k.due_at
                AND q.timezone IS NOT DISTINCT FROM k.timezone
                AND q.country IS NOT DISTINCT FROM k.country
            """
        )
        cap_checks = []
        for index, cap in enumerate(policy.frequency_caps):
            cap_checks.append(
                f"""SELECT t.message_key, {cap.max_messages} AS max_messages,
                    (SELECT count(*) FROM rec r WHERE r.customer_id = t.customer_id
                        AND r.channel = t.channel
                        AND r.at > t.send_at - INTERVAL {cap.per_hours} HOUR
                        AND r.at < t.send_at + INTERVAL {cap.per_hours} HOUR)
                    + row_number() OVER (PARTITION BY t.customer_id, t.channel
                        ORDER BY t.send_at, t.message_key) - 1 AS prior, {index} AS cap
                FROM timed t WHERE t.early_reason IS NULL AND t.channel = '{cap.channel}'"""
            )
        if cap_checks:
            capped_sql = (
                "SELECT DISTINCT message_key FROM ("
                + " UNION ALL ".join(cap_checks)
                + ") WHERE prior >= max_messages"
            )
        else:
            capped_sql = "SELECT message_key FROM timed WHERE FALSE"
        on_cap_defer = policy.on_cap == "defer"
        result = con.execute(
            f"""
            SELECT t.message_key, t.customer_id,
                CASE WHEN t.early_reason IS NOT NULL THEN 'skip'
                     WHEN capped.message_key IS NOT NULL
                        THEN {"'defer'" if on_cap_defer else "'skip'"}
                     WHEN t.send_at > t.due_at THEN 'defer'
                     ELSE 'send' END AS decision,
                CASE WHEN t.early_reason IS NOT NULL THEN t.early_reason
                     WHEN capped.message_key IS NOT NULL THEN 'frequency_cap'
                     WHEN t.send_at > t.due_at THEN 'quiet_hours' END AS reason,
                t.early_reason IS NULL OR t.early_reason = 'held_out' AS eligible,
                coalesce(t.early_reason = 'held_out', FALSE) AS held_out,
                t.send_at
            FROM timed t LEFT JOIN ({capped_sql}) capped ON capped.message_key = t.message_key
            ORDER BY t.message_key
            """
        ).fetch_arrow_table()
    finally:
        con.close()
    return result
