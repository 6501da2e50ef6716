"""Planning one occurrence of a campaign: audience → variants → gate → render → budget → ledger.

The audience arrives as Arrow from the data engine, already resolved to one row per customer
(the first matching included segment, excluded segments removed). Assignment (variant split,
generic share) and the gate run set-based in an in-process DuckDB and fix the rows' order
(priority, customer); everything after keeps that order and works column-wise by position
(decisions and rendered texts are spread back with ``take``, the budget is a cumulative sum).
Rendering and SMS counting are the only per-value steps, once per distinct value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from segmentum.campaigns.links import LinkTracking
from segmentum.campaigns.model import Campaign, ScheduleLocal, ScheduleRecurring
from segmentum.campaigns.policy import Policy, gate
from segmentum.campaigns.rendering import distinct_key, render_rows
from segmentum.campaigns.schedule import local_send_time, zone
from segmentum.catalog.settings import SmsPricing

#: Columns the audience table must have besides the customer fields used by templates.
AUDIENCE_REQUIRED = ("customer_id", "segment", "phone", "email", "timezone", "country", "language")
RECIPIENT_COLUMN = {"sms": "phone", "email": "email", "web_push": "customer_id"}
_INTERNAL = {"segment", "priority"}


@dataclass(frozen=True)
class Pricing:
    default: SmsPricing = field(default_factory=SmsPricing)
    by_country: Mapping[str, SmsPricing] = field(default_factory=dict)


@dataclass
class Plan:
    snapshot: pa.Table
    ledger: pa.Table
    #: per (segment, variant, generic): audience, held out, sent/queued, skipped by reason ...
    summary: list[dict[str, Any]]
    #: the rendered recipients and their tracked links (a ``links`` column), when tracking
    tracked_rows: pa.Table | None = None
    tracked_links: pa.Table | None = None


def _variants_table(campaign: Campaign) -> pa.Table:
    rows: dict[str, list[Any]] = {"segment": [], "variant": [], "lo": [], "hi": [], "priority": []}
    for priority, target in enumerate(campaign.segments):
        low = 0
        for variant in target.resolved_variants(campaign.default_template):
            rows["segment"].append(target.segment)
            rows["variant"].append(variant.name)
            rows["lo"].append(low)
            rows["hi"].append(low + variant.split)
            rows["priority"].append(priority)
            low += variant.split
    return pa.table(
        {
            "segment": pa.array(rows["segment"], pa.string()),
            "variant": pa.array(rows["variant"], pa.string()),
            "lo": pa.array(rows["lo"], pa.int32()),
            "hi": pa.array(rows["hi"], pa.int32()),
            "priority": pa.array(rows["priority"], pa.int32()),
        }
    )


def _holdouts(campaign: Campaign) -> pa.Table:
    return pa.table(
        {
            "segment": pa.array([t.segment for t in campaign.segments], pa.string()),
            "holdout_pct": pa.array([t.holdout_pct for t in campaign.segments], pa.int32()),
        }
    )


def _due_times(
    campaign: Campaign, zones: list[str | None], now: datetime, day: date | None, fallback: str
) -> pa.Table:
    """The due instant (naive UTC) for each distinct recipient zone."""
    due: list[datetime] = []
    for zone_name in zones:
        schedule = campaign.schedule
        if isinstance(schedule, ScheduleLocal):
            instant = local_send_time(schedule.at, zone(zone_name, fallback))
        elif isinstance(schedule, ScheduleRecurring) and day is not None:
            instant = local_send_time(datetime.combine(day, schedule.time),
                                      zone(zone_name, fallback))  # fmt: skip
        else:
            instant = now
        due.append(max(instant, now).astimezone(UTC).replace(tzinfo=None))
    return pa.table(
        {"timezone": pa.array(zones, pa.string()), "due_at": pa.array(due, pa.timestamp("us"))}
    )


def _template_keys(campaign: Campaign) -> dict[str, Any]:
    """Rendering key "segment/variant/language" → content, for every language of every template."""
    contents: dict[str, Any] = {}
    for (segment, variant), template in campaign.templates().items():
        contents[f"{segment}/{variant}/"] = template
        for tag, content in template.languages.items():
            contents[f"{segment}/{variant}/{tag}"] = content
    return contents


def _language_keys(campaign: Campaign, assigned: pa.Table) -> pa.Array:
    """Per row: the template's language tag chosen for the customer (exact, primary, fallback),
    decided once per distinct (segment, variant, language) and spread back column-wise."""
    templates = campaign.templates()
    columns = ["template_segment", "template_variant", "language"]
    key = distinct_key(assigned, columns)
    assert key is not None  # three flat string columns with few distinct values each
    unique = pc.unique(key)
    firsts = assigned.select(columns).take(pc.index_in(unique, value_set=key)).to_pylist()
    tags = pa.array(
        [
            templates[(row["template_segment"], row["template_variant"])].for_language(
                row["language"]
            )[0]
            for row in firsts
        ],
        pa.string(),
    )
    return tags.take(pc.index_in(key, value_set=unique))


def plan(
    campaign: Campaign,
    campaign_id: str,
    occurrence: int,
    audience: pa.Table,
    subscriptions: pa.Table | None,
    suppressions: pa.Table | None,
    recent: pa.Table | None,
    policy: Policy,
    now: datetime,
    *,
    day: date | None = None,
    pricing: Pricing | None = None,
    currency: str = "EUR",
    source: str = "campaign",
    links: LinkTracking | None = None,
) -> Plan:
    """Everything one occurrence would do, without touching any store.

    With ``links``, http(s) links in the messages become tracked short links; the plan then
    carries them for the service to store beside the ledger."""
    pricing = pricing or Pricing()
    channel = campaign.channel
    now_naive = now.astimezone(UTC).replace(tzinfo=None)
    con = duckdb.connect()
    try:
        con.register("audience", audience)
        con.register("variants", _variants_table(campaign))
        con.register("holdouts", _holdouts(campaign))
        zones = con.execute("SELECT DISTINCT timezone FROM audience").fetch_arrow_table()
        con.register(
            "due",
            _due_times(campaign, zones.column(0).to_pylist(), now, day, policy.timezone),
        )
        recipient = RECIPIENT_COLUMN[channel]
        generic_pct = campaign.generic_pct if campaign.default_template is not None else 0
        assigned = con.execute(
            f"""
            WITH drawn AS (
                SELECT a.*,
                    CAST('0x' || substr(md5(? || ':' || a.segment || ':variant:' ||
                        a.customer_id), 1, 8) AS UBIGINT) % 100 AS variant_bucket,
                    CAST('0x' || substr(md5(? || ':generic:' || a.customer_id), 1, 8)
                        AS UBIGINT) % 100 < ? AS generic_draw
                FROM audience a
            )
            SELECT d.*, v.variant, v.priority, h.holdout_pct,
                sha256(? || chr(31) || CAST(? AS VARCHAR) || chr(31) || ? || chr(31)
                    || d.customer_id)[1:32] AS message_key,
                ? AS channel, ? AS holdout_seed,
                CAST(d.{recipient} AS VARCHAR) AS recipient,
                t.due_at
            FROM drawn d
            JOIN variants v ON v.segment = d.segment
                AND d.variant_bucket >= v.lo AND d.variant_bucket < v.hi
            JOIN holdouts h ON h.segment = d.segment
            JOIN due t ON t.timezone IS NOT DISTINCT FROM d.timezone
            ORDER BY v.priority, d.customer_id
            """,
            [campaign_id, campaign_id, generic_pct, campaign_id, occurrence, channel, channel,
             campaign_id],
        ).fetch_arrow_table()  # fmt: skip
    finally:
        con.close()

    decisions = gate(assigned, subscriptions, suppressions, recent, policy)
    decided = _join_decisions(assigned, decisions)
    held_out = decided.column("held_out")
    treated = pc.and_(decided.column("eligible"), pc.invert(held_out))
    generic = pc.fill_null(pc.and_(decided.column("generic_draw"), treated), False)
    decided = decided.append_column("generic", generic)
    decided = decided.append_column(
        "template_segment", pc.if_else(generic, "*", decided.column("segment"))
    )
    decided = decided.append_column(
        "template_variant", pc.if_else(generic, "generic", decided.column("variant"))
    )
    decided = decided.append_column("language_key", _language_keys(campaign, decided))
    decided = decided.append_column(
        "template_key",
        pc.binary_join_element_wise(
            decided.column("template_segment"),
            decided.column("template_variant"),
            decided.column("language_key"),
            "/",
        ),
    )

    sendable = pc.is_in(decided.column("decision"), pa.array(["send", "defer"]))
    context_columns = [
        name for name in audience.column_names if name not in _INTERNAL and not name.startswith("_")
    ]
    # only what rendering and link tracking read: a filtered copy of every column of the
    # audience would be the plan's largest table
    needed = [*context_columns, "template_key", "message_key", "customer_id", "channel",
              "segment", "variant", "template_variant"]  # fmt: skip
    to_render = decided.select(list(dict.fromkeys(needed))).filter(sendable)
    rendered = render_rows(
        to_render,
        "template_key",
        _template_keys(campaign),
        context_columns,
        {
            "campaign": {"name": campaign.name, "id": campaign_id, "channel": channel},
            "currency": currency,
        },
        channel,
        links=links,
    )
    result = _finish(campaign, campaign_id, occurrence, decided, rendered, pricing, now_naive,
                     source)  # fmt: skip
    if links is None:
        return result
    tracked = to_render
    for name, value in (("campaign_id", campaign_id), ("channel", channel)):
        if name not in tracked.column_names:
            tracked = tracked.append_column(name, pa.array([value] * tracked.num_rows, pa.string()))
    return replace(result, tracked_rows=tracked, tracked_links=rendered)


def _join_decisions(assigned: pa.Table, decisions: pa.Table) -> pa.Table:
    """``assigned`` (in priority, customer order) with each row's decision columns: a hash
    lookup of the message key, keeping that order (no join and re-sort of the wide rows)."""
    where = pc.index_in(assigned.column("message_key"), value_set=decisions.column("message_key"))
    picked = decisions.select(["decision", "reason", "eligible", "held_out", "send_at"]).take(where)
    for name in picked.column_names:
        assigned = assigned.append_column(name, picked.column(name))
    return assigned


def _finish(
    campaign: Campaign,
    campaign_id: str,
    occurrence: int,
    decided: pa.Table,
    rendered: pa.Table,
    pricing: Pricing,
    now: datetime,
    source: str,
) -> Plan:
    from segmentum.campaigns.sms import count_sms_batch

    if campaign.channel == "sms" and rendered.num_rows:
        counts = count_sms_batch(rendered.column("body"))
        segments = counts.column("segments")
    else:
        segments = pa.nulls(rendered.num_rows, pa.int64())
    prices = pa.table(
        {
            "country": pa.array(list(pricing.by_country), pa.string()),
            "price": pa.array(
                [p.price_per_segment for p in pricing.by_country.values()], pa.decimal128(18, 6)
            ),
        }
    )
    # the rendered rows are the sendable rows of ``decided``, in order: spread them back by
    # position (null for the others) instead of joining the wide rows on the message key
    sendable = pc.is_in(decided.column("decision"), pa.array(["send", "defer"]))
    running = pc.cumulative_sum(sendable.cast(pa.int64()))
    position = pc.if_else(sendable, pc.subtract(running, 1), pa.scalar(None, pa.int64()))
    spread = {
        "subject": rendered.column("subject"),
        "body": rendered.column("body"),
        "html": rendered.column("html"),
        "render_error": rendered.column("render_error"),
        "sms_segments": segments.cast(pa.int64()),
    }
    priced = decided
    for name, column in spread.items():
        priced = priced.append_column(name, pc.take(column, position))
    country_prices = pc.take(
        prices.column("price"),
        pc.index_in(pc.utf8_upper(decided.column("country")), value_set=prices.column("country")),
    )
    narrow = pa.table(
        {
            "channel": priced.column("channel"),
            "counted": pc.and_(sendable, pc.is_null(priced.column("render_error"))),
            "sms_segments": priced.column("sms_segments"),
            "price": country_prices,
        }
    )
    budget = campaign.budget
    max_segments = budget.max_sms_segments if budget else None
    max_cost = budget.max_cost if budget else None
    con = duckdb.connect()
    try:
        # the queries below are projections of one registered table: with insertion order
        # preserved (DuckDB's default, stated here because the budget relies on it) their
        # rows come back in the rows' order, so nothing is sorted
        con.execute("SET preserve_insertion_order = true")
        con.register("narrow", narrow)
        default_price = Decimal(pricing.default.price_per_segment)
        cost = (
            con.execute(
                "SELECT CASE WHEN channel = 'sms' THEN CAST(sms_segments * coalesce(price, ?) "
                "AS DECIMAL(18, 6)) END AS cost FROM narrow",
                [default_price],
            )
            .fetch_arrow_table()
            .column("cost")
        )
        over = _over_budget(narrow.column("counted"), narrow.column("sms_segments"), cost,
                            max_segments, max_cost)  # fmt: skip
        priced = priced.append_column("cost", cost).append_column("over_budget", over)
        con.register("budgeted", priced)
        ledger = con.execute(
            """
            SELECT message_key, ? AS source, ? AS campaign_id, CAST(? AS INTEGER) AS occurrence,
                customer_id, channel, segment, variant, nullif(language_key, '') AS language,
                recipient, upper(country) AS country,
                CASE WHEN status = 'queued' THEN subject END AS subject,
                CASE WHEN status = 'queued' THEN body END AS body,
                CASE WHEN status = 'queued' THEN html END AS html,
                status, reason_out AS reason, 0 AS attempts, due_at,
                send_at AS next_attempt_at,
                CASE WHEN status = 'queued' THEN sms_segments END AS sms_segments,
                CASE WHEN status = 'queued' THEN cost END AS cost,
                CAST(? AS TIMESTAMP) AS created_at, CAST(? AS TIMESTAMP) AS updated_at,
                generic, held_out, eligible, priority, render_error
            FROM (
                SELECT *,
                    CASE WHEN decision = 'skip' OR render_error IS NOT NULL OR over_budget
                         THEN 'skipped' ELSE 'queued' END AS status,
                    CASE WHEN decision = 'skip' THEN reason
                         WHEN render_error IS NOT NULL THEN 'render_error'
                         WHEN over_budget THEN 'budget'
                         WHEN decision = 'defer' THEN reason END AS reason_out
                FROM budgeted
            )
            """,
            [source, campaign_id, occurrence, now, now],
        ).fetch_arrow_table()  # fmt: skip
    finally:
        con.close()
    return _assemble(campaign_id, occurrence, ledger, now)


def _over_budget(
    counted: pa.Array,
    segments: pa.Array,
    cost: pa.ChunkedArray,
    max_segments: int | None,
    max_cost: Decimal | None,
) -> pa.Array:
    """Per row: a counted message (to send, rendered) past the budget, which is a running sum
    in the rows' order (priority, customer) over the counted messages only. Costs are summed
    exactly, in integer millionths (the ledger's DECIMAL(18, 6))."""
    exceeded = []
    if max_segments is not None:
        used = pc.cumulative_sum(pc.if_else(counted, pc.fill_null(segments, 0), 0))
        exceeded.append(pc.greater(used, max_segments))
    if max_cost is not None:
        millionths = pc.multiply(
            pc.fill_null(cost, pa.scalar(Decimal(0), cost.type)),
            pa.scalar(Decimal(1_000_000), pa.decimal128(7, 0)),
        ).cast(pa.int64())
        used = pc.cumulative_sum(pc.if_else(counted, millionths, 0))
        # an integer sum exceeds max_cost exactly when it exceeds its floor
        limit = int((max_cost * 1_000_000).to_integral_value(rounding=ROUND_FLOOR))
        exceeded.append(pc.greater(used, limit))
    if not exceeded:
        return pc.and_(counted, pa.scalar(False))
    return pc.and_(counted, exceeded[0] if len(exceeded) == 1 else pc.or_(*exceeded))


SUMMARY_COLUMNS = (
    "segment", "variant", "audience", "eligible", "held_out", "generic", "queued", "deferred",
    "skipped", "no_address", "no_consent", "suppressed", "frequency_cap", "budget",
    "render_error", "sms_segments", "cost",
)  # fmt: skip


def _assemble(campaign_id: str, occurrence: int, ledger: pa.Table, now: datetime) -> Plan:
    con = duckdb.connect()
    try:
        con.register("ledger", ledger)
        snapshot = con.execute(
            "SELECT campaign_id, occurrence, customer_id, segment, variant, language, held_out, "
            "generic, eligible, CAST(? AS TIMESTAMP) AS recorded_at FROM ledger",
            [now],
        ).fetch_arrow_table()
        summary = con.execute(
            """
            SELECT segment, variant, count(*) AS audience,
                count(*) FILTER (WHERE eligible) AS eligible,
                count(*) FILTER (WHERE held_out) AS held_out,
                count(*) FILTER (WHERE generic) AS generic,
                count(*) FILTER (WHERE status = 'queued') AS queued,
                count(*) FILTER (WHERE status = 'queued' AND next_attempt_at > due_at) AS deferred,
                count(*) FILTER (WHERE status = 'skipped' AND reason <> 'held_out') AS skipped,
                count(*) FILTER (WHERE reason = 'no_address') AS no_address,
                count(*) FILTER (WHERE reason = 'no_consent') AS no_consent,
                count(*) FILTER (WHERE reason = 'suppressed') AS suppressed,
                count(*) FILTER (WHERE reason = 'frequency_cap') AS frequency_cap,
                count(*) FILTER (WHERE reason = 'budget') AS budget,
                count(*) FILTER (WHERE reason = 'render_error') AS render_error,
                CAST(coalesce(sum(sms_segments), 0) AS BIGINT) AS sms_segments,
                coalesce(sum(cost), 0) AS cost
            FROM ledger GROUP BY segment, variant, min_priority
            ORDER BY min_priority, variant
            """.replace("min_priority", "priority")
        ).fetch_arrow_table()
    finally:
        con.close()
    return Plan(snapshot, ledger, summary.to_pylist())
