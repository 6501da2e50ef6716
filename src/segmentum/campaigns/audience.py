"""Planning one occurrence of a campaign: audience → variants → gate → render → budget → ledger.

The audience arrives as Arrow from the data engine, already resolved to one row per customer
(the first matching included segment, excluded segments removed). Assignment (variant split,
generic share), the gate and the budget run set-based in an in-process DuckDB; rendering and
SMS counting are the only per-value steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from segmentum.campaigns.links import LinkTracking
from segmentum.campaigns.model import Campaign, ScheduleLocal, ScheduleRecurring
from segmentum.campaigns.policy import Policy, gate
from segmentum.campaigns.rendering import render_rows
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
    """Per row: the template's language tag chosen for the customer (exact, primary, fallback)."""
    templates = campaign.templates()
    segments = assigned.column("template_segment").to_pylist()
    variants = assigned.column("template_variant").to_pylist()
    languages = assigned.column("language").to_pylist()
    cache: dict[tuple[str, str, str | None], str] = {}
    out = []
    for segment, variant, language in zip(segments, variants, languages, strict=True):
        key = (segment, variant, language)
        if key not in cache:
            cache[key] = templates[(segment, variant)].for_language(language)[0]
        out.append(cache[key])
    return pa.array(out, pa.string())


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
    to_render = decided.filter(sendable)
    context_columns = [
        name for name in audience.column_names if name not in _INTERNAL and not name.startswith("_")
    ]
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
    result = _finish(campaign, campaign_id, occurrence, decided, to_render, rendered, pricing,
                     now_naive, source)  # fmt: skip
    if links is None:
        return result
    tracked = to_render
    for name, value in (("campaign_id", campaign_id), ("channel", channel)):
        if name not in tracked.column_names:
            tracked = tracked.append_column(name, pa.array([value] * tracked.num_rows, pa.string()))
    return replace(result, tracked_rows=tracked, tracked_links=rendered)


def _join_decisions(assigned: pa.Table, decisions: pa.Table) -> pa.Table:
    con = duckdb.connect()
    try:
        con.register("a", assigned)
        con.register("d", decisions)
        return con.execute(
            "SELECT a.*, d.decision, d.reason, d.eligible, d.held_out, d.send_at "
            "FROM a JOIN d USING (message_key) ORDER BY a.priority, a.customer_id"
        ).fetch_arrow_table()
    finally:
        con.close()


def _finish(
    campaign: Campaign,
    campaign_id: str,
    occurrence: int,
    decided: pa.Table,
    to_render: pa.Table,
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
    rendered_full = pa.table(
        {
            "message_key": to_render.column("message_key"),
            "subject": rendered.column("subject"),
            "body": rendered.column("body"),
            "html": rendered.column("html"),
            "render_error": rendered.column("render_error"),
            "sms_segments": segments.cast(pa.int64()),
        }
    )
    budget = campaign.budget
    max_segments = budget.max_sms_segments if budget else None
    max_cost = budget.max_cost if budget else None
    con = duckdb.connect()
    try:
        con.register("decided", decided)
        con.register("rendered", rendered_full)
        con.register("prices", prices)
        default_price = Decimal(pricing.default.price_per_segment)
        con.execute(
            """
            CREATE TEMP TABLE priced AS
            SELECT d.*, r.subject, r.body, r.html, r.render_error, r.sms_segments,
                CASE WHEN d.channel = 'sms' THEN CAST(r.sms_segments * coalesce(p.price, ?)
                    AS DECIMAL(18, 6)) END AS cost
            FROM decided d LEFT JOIN rendered r USING (message_key)
            LEFT JOIN prices p ON p.country = upper(d.country)
            """,
            [default_price],
        )
        con.execute(
            """
            CREATE TEMP TABLE budgeted AS
            SELECT *,
                CASE WHEN decision IN ('send', 'defer') AND render_error IS NULL THEN
                    sum(coalesce(sms_segments, 0)) OVER w END AS running_segments,
                CASE WHEN decision IN ('send', 'defer') AND render_error IS NULL THEN
                    sum(coalesce(cost, 0)) OVER w END AS running_cost
            FROM priced
            WINDOW w AS (PARTITION BY decision IN ('send', 'defer') AND render_error IS NULL
                ORDER BY priority, customer_id ROWS UNBOUNDED PRECEDING)
            """
        )
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
                    CASE WHEN decision = 'skip' OR render_error IS NOT NULL
                         OR (CAST(? AS BIGINT) IS NOT NULL AND running_segments > ?)
                         OR (CAST(? AS DECIMAL(18, 6)) IS NOT NULL AND running_cost > ?)
                         THEN 'skipped' ELSE 'queued' END AS status,
                    CASE WHEN decision = 'skip' THEN reason
                         WHEN render_error IS NOT NULL THEN 'render_error'
                         WHEN CAST(? AS BIGINT) IS NOT NULL AND running_segments > ?
                            THEN 'budget'
                         WHEN CAST(? AS DECIMAL(18, 6)) IS NOT NULL AND running_cost > ?
                            THEN 'budget'
                         WHEN decision = 'defer' THEN reason END AS reason_out
                FROM budgeted
            )
            ORDER BY priority, customer_id
            """,
            [source, campaign_id, occurrence, now, now,
             max_segments, max_segments, max_cost, max_cost,
             max_segments, max_segments, max_cost, max_cost],
        ).fetch_arrow_table()  # fmt: skip
    finally:
        con.close()
    return _assemble(campaign_id, occurrence, ledger, now)


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
