"""Campaign use cases: create, preview, dry-run, send, pause, resume, cancel, status, list,
test-send, and the worker loop that plans due occurrences and delivers due ledger rows.

The audience is evaluated once through the engine (every included and excluded segment in one
pass), resolved to one row per customer there (priority via ``ibis.cases``, exclusion as a
filter), and comes back as Arrow with the customer fields and the last order the templates use.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import yaml
from pydantic import ValidationError

from segmentum.campaigns.audience import Plan, Pricing, plan
from segmentum.campaigns.ledger import RetryPolicy
from segmentum.campaigns.model import (
    Campaign,
    CampaignState,
    ScheduleLocal,
    ScheduleNow,
    ScheduleRecurring,
    Template,
)
from segmentum.campaigns.policy import Policy, gate
from segmentum.campaigns.schedule import earliest_instant, latest_instant, recurring_days
from segmentum.campaigns.worker import Deliverer, RateLimiter
from segmentum.service import tracking
from segmentum.service.channels import close_channels, open_channels
from segmentum.service.clock import now_utc
from segmentum.service.consent import delivery_refusals, subscriptions_arrow
from segmentum.service.errors import ServiceError
from segmentum.service.last_order import with_last_order
from segmentum.service.workspace import Workspace
from segmentum.store import campaigns as campaign_store
from segmentum.store import segments as segment_store
from segmentum.store.campaigns import AUDIENCE_COLUMNS, LEDGER_COLUMNS, naive

# --- definitions --------------------------------------------------------------------------------


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'campaign'}: "
        + item["msg"].removeprefix("Value error, ")  # pydantic's wrapper of our own messages
        for item in error.errors()
    )


def parse_campaign(data: Any) -> Campaign:
    try:
        return Campaign.model_validate(data)
    except ValidationError as error:
        raise ServiceError(f"invalid campaign: {_describe(error)}") from error


def load_campaign_file(path: Path) -> Campaign:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ServiceError(f"cannot read {path}: {error}") from error
    return parse_campaign(data)


def _check(ws: Workspace, campaign: Campaign) -> None:
    missing = [
        name
        for name in [t.segment for t in campaign.segments] + list(campaign.exclude)
        if segment_store.get_segment(ws.store, name) is None
    ]
    if missing:
        raise ServiceError(f"unknown segment(s): {', '.join(missing)}")
    problems = []
    for (segment, variant), template in campaign.templates().items():
        problems += template_problems(ws, template, campaign.channel,
                                      _template_place(segment, variant),
                                      lambda tag: f", language {tag}")  # fmt: skip
    if problems:
        raise ServiceError(f"campaign {campaign.name}: template problems: " + "; ".join(problems))


def _template_place(segment: str, variant: str) -> str:
    if segment == "*":
        return "default_template (the generic share)"
    return f"segment {segment}, variant {variant}"


def template_problems(
    ws: Workspace, template: Template, channel: str, where: str, language: Callable[[str], str]
) -> list[str]:
    """What is wrong with a template and each of its language versions (``where`` names it,
    ``language(tag)`` is appended for a version): it must compile for the channel, read only
    the fields a message may read, and render for a sample recipient whose every field is
    filled in (`campaigns.sample_recipient`): one that fails even then fails for everyone.
    Campaigns and automations check the same way. Each problem is one line."""
    from segmentum.campaigns.rendering import compile_content
    from segmentum.campaigns.sample_recipient import sample_context
    from segmentum.campaigns.templates import (
        TemplateError,
        available_fields,
        check_fields,
        render,
    )

    fields = available_fields(ws.settings)
    problems = []
    for tag, content in [("", template), *template.languages.items()]:
        place = where + (language(tag) if tag else "")
        try:
            compiled = compile_content(content, channel)
        except TemplateError as error:
            problems.append(f"{place}: {_one_line(str(error))}")
            continue
        unknown = check_fields(compiled, fields)
        if unknown:
            problems.append(f"{place}: unknown field(s) {', '.join(unknown)}")
            continue
        try:
            render(compiled, sample_context(ws.settings, channel, tag or None), tag or None)
        except TemplateError as error:
            problems.append(
                f"{place}: does not render even for a customer with every field filled in: "
                + _one_line(str(error))
            )
    return problems


def _one_line(text: str) -> str:
    return " ".join(text.split())


def create_campaign(ws: Workspace, campaign: Campaign) -> campaign_store.StoredCampaign:
    _check(ws, campaign)
    campaign_store.insert_campaign(
        ws.store, campaign.name, campaign.model_dump_json(exclude_defaults=False), now_utc()
    )
    stored = campaign_store.get_campaign(ws.store, campaign.name)
    assert stored is not None
    return stored


def get_campaign(ws: Workspace, campaign_id: str) -> tuple[campaign_store.StoredCampaign, Campaign]:
    stored = campaign_store.get_campaign(ws.store, campaign_id)
    if stored is None:
        raise ServiceError(f"no campaign named {campaign_id!r}")
    return stored, Campaign.model_validate_json(stored.definition)


def list_campaigns(ws: Workspace) -> list[dict[str, Any]]:
    rows = []
    for stored in campaign_store.list_campaigns(ws.store):
        campaign = Campaign.model_validate_json(stored.definition)
        rows.append(
            {
                "campaign": stored.campaign_id,
                "channel": campaign.channel,
                "state": stored.state,
                "segments": ", ".join(t.segment for t in campaign.segments),
                "schedule": campaign.schedule.type,
                "occurrences": stored.occurrences,
                "next_run_at": stored.next_run_at,
                "updated_at": stored.updated_at,
            }
        )
    return rows


# --- the audience -------------------------------------------------------------------------------


def _evaluate_segments(ws: Workspace, names: list[str], as_of: datetime) -> ibis.Table:
    """customer_id plus one boolean column per named segment, in one engine pass."""
    from segmentum.service import segments as segment_service

    definitions = segment_service.stored_definitions(ws)
    needed: dict[str, Any] = {}
    pending = list(names)
    from segmentum.spec.nodes import SegmentRef, walk

    while pending:
        name = pending.pop()
        if name in needed or name not in definitions:
            continue
        needed[name] = definitions[name]
        pending.extend(n.segment for n in walk(definitions[name]) if isinstance(n, SegmentRef))
    return segment_service.evaluate(ws, needed, as_of)


def audience_expr(ws: Workspace, campaign: Campaign, as_of: datetime) -> ibis.Table:
    """One row per recipient: the first included segment they are in, none excluded."""
    includes = [target.segment for target in campaign.segments]
    result = _evaluate_segments(ws, includes + list(campaign.exclude), as_of)
    flag = {name: result[name].fill_null(False) for name in includes + list(campaign.exclude)}
    segment = ibis.cases(*[(flag[name], name) for name in includes], else_=ibis.null("string"))
    keep = ibis.or_(*[flag[name] for name in includes])
    if campaign.exclude:
        keep = keep & ~ibis.or_(*[flag[name] for name in campaign.exclude])
    picked = result.filter(keep).select(result.customer_id, segment=segment)
    customers = ws.table("customers")
    with_profile = picked.join(customers, picked.customer_id == customers.customer_id).select(
        picked.segment, *[customers[c] for c in customers.columns]
    )
    return with_last_order(ws, with_profile)


def audience_arrow(ws: Workspace, campaign: Campaign, as_of: datetime) -> pa.Table:
    return audience_expr(ws, campaign, as_of).to_pyarrow()


# --- planning -----------------------------------------------------------------------------------


def _policy(ws: Workspace, **overrides: Any) -> Policy:
    settings = ws.settings
    values: dict[str, Any] = {
        "timezone": settings.timezone,
        "quiet_hours": settings.quiet_hours,
        "quiet_hours_by_country": settings.quiet_hours_by_country,
        "frequency_caps": settings.frequency_caps,
    }
    values.update(overrides)
    return Policy(**values)


def _pricing(ws: Workspace) -> Pricing:
    return Pricing(ws.settings.sms_pricing, ws.settings.sms_pricing_by_country)


def _recent(ws: Workspace, channel: str, now: datetime) -> pa.Table:
    hours = max((cap.per_hours for cap in ws.settings.frequency_caps), default=0)
    return campaign_store.recent_messages(
        ws.store, channel, now - timedelta(hours=hours), now + timedelta(hours=hours + 72)
    )


def _occurrence_day(campaign: Campaign, now: datetime, tz: str) -> date | None:
    schedule = campaign.schedule
    if not isinstance(schedule, ScheduleRecurring):
        return None
    from zoneinfo import ZoneInfo

    # the calendar day whose send time is coming: tomorrow's in the furthest-ahead zone
    local_today = now.astimezone(ZoneInfo(tz)).date()
    return recurring_days(local_today, schedule.every, schedule.weekday, schedule.start,
                          schedule.until)  # fmt: skip


def build_plan(
    ws: Workspace,
    campaign: Campaign,
    campaign_id: str,
    occurrence: int,
    now: datetime,
    day: date | None = None,
) -> Plan:
    audience = audience_arrow(ws, campaign, now)
    return plan(
        campaign,
        campaign_id,
        occurrence,
        audience,
        subscriptions_arrow(ws, campaign.channel),
        campaign_store.suppression_hashes_all(ws.store, campaign.channel),
        _recent(ws, campaign.channel, now),
        _policy(ws),
        now,
        day=day,
        pricing=_pricing(ws),
        currency=ws.settings.currency,
        links=tracking.link_tracking(ws, campaign_id, campaign.channel),
    )


def dry_run(ws: Workspace, campaign_id: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """Counts per segment and variant, held out, skipped by reason, SMS segments and cost."""
    stored, campaign = get_campaign(ws, campaign_id)
    now = now or now_utc()
    day = _occurrence_day(campaign, now, ws.settings.timezone)
    result = build_plan(ws, campaign, stored.campaign_id, stored.occurrences + 1, now, day)
    return result.summary


def preview(
    ws: Workspace, campaign_id: str, sample: int = 3, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Rendered messages of sample recipients of each variant (and the generic share)."""
    stored, campaign = get_campaign(ws, campaign_id)
    now = now or now_utc()
    audience = audience_arrow(ws, campaign, now)
    everyone = pa.table(
        {
            "customer_id": audience.column("customer_id"),
            "channel": pa.array([campaign.channel] * audience.num_rows, pa.string()),
            "status": pa.array(["opted_in"] * audience.num_rows, pa.string()),
            "changed_at": pa.array([naive(now)] * audience.num_rows, pa.timestamp("us")),
        }
    )
    result = plan(campaign, stored.campaign_id, 0, audience, everyone, None, None,
                  _policy(ws, frequency_caps=()), now, pricing=_pricing(ws),
                  currency=ws.settings.currency)  # fmt: skip
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, bool], int] = {}
    for row in result.ledger.to_pylist():
        key = (row["segment"], row["variant"], bool(row["generic"]))
        if seen.get(key, 0) >= sample:
            continue
        seen[key] = seen.get(key, 0) + 1
        rows.append(
            {
                "segment": row["segment"],
                "variant": "generic" if row["generic"] else row["variant"],
                "customer_id": row["customer_id"],
                "language": row["language"] or "",
                "subject": row["subject"],
                "body": row["body"] if row["body"] is not None else "",
                "error": row["render_error"],
                "reason": row["reason"],
                "sms_segments": row["sms_segments"],
            }
        )
    return rows


def _persist(ws: Workspace, result: Plan, occurrence: int, now: datetime) -> None:
    campaign_store.insert_arrow(ws.store, "campaign_audience", result.snapshot, AUDIENCE_COLUMNS)
    campaign_store.insert_arrow(ws.store, "send_ledger", result.ledger, LEDGER_COLUMNS)
    tracking.register_plan_links(ws, result, occurrence, now)


def _next_run(campaign: Campaign, after_day: date | None, now: datetime) -> datetime | None:
    schedule = campaign.schedule
    if isinstance(schedule, ScheduleRecurring):
        start = (after_day + timedelta(days=1)) if after_day else now.date()
        day = recurring_days(start, schedule.every, schedule.weekday, schedule.start,
                             schedule.until)  # fmt: skip
        return None if day is None else earliest_instant(day, schedule.time)
    if isinstance(schedule, ScheduleLocal):
        return earliest_instant(schedule.at.date(), schedule.at.time())
    return None


def start_occurrence(
    ws: Workspace, campaign_id: str, now: datetime, expected_next_run: datetime | None = None
) -> dict[str, Any] | None:
    """Snapshot the audience, run the gate, render and write the ledger for one occurrence,
    atomically. Returns None when another worker planned it first."""
    stored, campaign = get_campaign(ws, campaign_id)
    day = _occurrence_day(campaign, now, ws.settings.timezone)
    occurrence = stored.occurrences + 1
    result = build_plan(ws, campaign, campaign_id, occurrence, now, day)
    following = _next_run(campaign, day, now) if campaign.is_recurring else None
    with ws.store.transaction():
        params: list[Any] = [occurrence, naive(now), naive(now), campaign_id, stored.occurrences]
        rows = ws.store.query(
            "UPDATE campaigns SET occurrences = ?, state = 'sending', updated_at = ?, "
            "started_at = coalesce(started_at, ?) "
            "WHERE campaign_id = ? AND occurrences = ? AND state IN "
            "('draft', 'scheduled', 'sending') RETURNING campaign_id",
            params,
        )
        if not rows:
            return None
        ws.store.execute(
            "UPDATE campaigns SET next_run_at = ? WHERE campaign_id = ?",
            (None if following is None else naive(following), campaign_id),
        )
        _persist(ws, result, occurrence, now)
    return {"occurrence": occurrence, "summary": result.summary}


def send(ws: Workspace, campaign_id: str, now: datetime | None = None) -> dict[str, Any]:
    """Start sending: now (plans at once), or scheduled for the worker."""
    stored, campaign = get_campaign(ws, campaign_id)
    if stored.state != CampaignState.DRAFT:
        raise ServiceError(f"campaign {campaign_id} is {stored.state}; only a draft can be sent")
    now = now or now_utc()
    if isinstance(campaign.schedule, ScheduleNow):
        started = start_occurrence(ws, campaign_id, now)
        if started is None:
            raise ServiceError(f"campaign {campaign_id} was started by another process")
        return {"state": "sending", **started}
    next_run = _next_run(campaign, None, now)
    if next_run is None:
        raise ServiceError("the schedule has no future occurrence")
    if isinstance(campaign.schedule, ScheduleLocal):
        at = campaign.schedule.at
        if latest_instant(at.date(), at.time()) <= now:
            raise ServiceError(
                f"the schedule has no future occurrence: {at:%Y-%m-%d %H:%M} local time has "
                "passed in every time zone"
            )
    campaign_store.set_state(ws.store, campaign_id, CampaignState.SCHEDULED, now,
                             expected=[CampaignState.DRAFT], next_run_at=next_run)  # fmt: skip
    return {"state": "scheduled", "next_run_at": next_run}


def _transition(ws: Workspace, campaign_id: str, target: CampaignState) -> str:
    stored, _ = get_campaign(ws, campaign_id)
    from segmentum.campaigns.model import TRANSITIONS

    current = CampaignState(stored.state)
    if target not in TRANSITIONS[current]:
        raise ServiceError(f"campaign {campaign_id} is {current}; cannot move to {target}")
    campaign_store.set_state(ws.store, campaign_id, target, now_utc(), expected=[current])
    return target.value


def pause(ws: Workspace, campaign_id: str) -> str:
    return _transition(ws, campaign_id, CampaignState.PAUSED)


def resume(ws: Workspace, campaign_id: str) -> str:
    stored, _ = get_campaign(ws, campaign_id)
    target = CampaignState.SENDING if stored.occurrences else CampaignState.SCHEDULED
    return _transition(ws, campaign_id, target)


def cancel(ws: Workspace, campaign_id: str) -> str:
    state = _transition(ws, campaign_id, CampaignState.CANCELLED)
    ws.store.execute(
        "UPDATE send_ledger SET status = 'skipped', reason = 'cancelled' "
        "WHERE campaign_id = ? AND status = 'queued'",
        (campaign_id,),
    )
    return state


def status(ws: Workspace, campaign_id: str) -> dict[str, Any]:
    stored, campaign = get_campaign(ws, campaign_id)
    return {
        "campaign": stored.campaign_id,
        "state": stored.state,
        "channel": campaign.channel,
        "occurrences": stored.occurrences,
        "next_run_at": stored.next_run_at,
        "ledger": campaign_store.ledger_counts(ws.store, campaign_id),
        "audience": campaign_store.audience_counts(ws.store, campaign_id),
    }


# --- test sends ---------------------------------------------------------------------------------


def send_test(ws: Workspace, campaign_id: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each variant, rendered for a sample member of its segment, to every seed address.

    Seed addresses are not customers: consent and caps do not apply, the suppression list and
    the ledger do (source ``test``)."""
    _, campaign = get_campaign(ws, campaign_id)
    seeds = list(getattr(ws.settings.seed_list, campaign.channel))
    if not seeds:
        raise ServiceError(
            f"the workspace has no {campaign.channel} seed list (settings.seed_list)"
        )
    now = now or now_utc()
    samples = preview(ws, campaign_id, sample=1, now=now)
    occurrence = -int(now.timestamp())
    rows: list[dict[str, Any]] = []
    for sample in samples:
        for seed in seeds:
            rows.append({**sample, "recipient": seed})
    if not rows:
        return []
    from segmentum.campaigns.ledger import message_key

    keys = [
        message_key(
            campaign_id,
            occurrence,
            campaign.channel,
            f"{r['segment']}/{r['variant']}/{r['recipient']}",
        )
        for r in rows
    ]
    candidates = pa.table(
        {
            "message_key": keys,
            "customer_id": [f"seed:{r['segment']}/{r['variant']}/{r['recipient']}" for r in rows],
            "channel": [campaign.channel] * len(rows),
            "recipient": [r["recipient"] for r in rows],
            "timezone": pa.nulls(len(rows), pa.string()),
            "country": pa.nulls(len(rows), pa.string()),
            "due_at": pa.array([naive(now)] * len(rows), pa.timestamp("us")),
            "holdout_pct": pa.array([0] * len(rows), pa.int32()),
            "holdout_seed": [campaign_id] * len(rows),
        }
    )
    from segmentum.catalog.settings import QuietHours

    decisions = gate(
        candidates, None, campaign_store.suppression_hashes_all(ws.store, campaign.channel), None,
        _policy(ws, require_consent=False, frequency_caps=(),
                quiet_hours=QuietHours(start="00:00", end="00:00"), quiet_hours_by_country={}),
    )  # fmt: skip
    channels = open_channels(ws)
    try:
        return _deliver_tests(ws, campaign, campaign_id, occurrence, keys, rows,
                              decisions, channels, now)  # fmt: skip
    finally:
        close_channels(channels.values())


def _deliver_tests(
    ws: Workspace,
    campaign: Campaign,
    campaign_id: str,
    occurrence: int,
    keys: list[str],
    rows: list[dict[str, Any]],
    decisions: pa.Table,
    channels: dict[str, Any],
    now: datetime,
) -> list[dict[str, Any]]:
    """Write every test message's ledger row first (``sending``, or ``skipped`` with its
    reason), then call the provider for the sendable ones and record each answer: a crash
    between the two leaves a row that says a send was attempted, never a send with no row."""
    from segmentum.campaigns.channels.base import OutgoingMessage

    decision_by_key = {d["message_key"]: d for d in decisions.to_pylist()}
    planned: list[tuple[str, dict[str, Any], str, str | None]] = []
    for key, row in zip(keys, rows, strict=True):
        decision = decision_by_key[key]
        if row["error"]:
            planned.append((key, row, "skipped", "render_error"))
        elif decision["decision"] == "send":
            planned.append((key, row, "sending", None))
        else:
            planned.append((key, row, "skipped", decision["reason"]))
    stamp = naive(now)
    with ws.store.transaction():
        ws.store.executemany(
            "INSERT INTO send_ledger (message_key, source, campaign_id, occurrence, customer_id, "
            "channel, segment, variant, recipient, subject, body, status, reason, attempts, "
            "due_at, next_attempt_at, created_at, updated_at) "
            "VALUES (?, 'test', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                # one seed gets every variant: the ledger's (campaign, customer, channel,
                # occurrence) key names the variant too
                (key, campaign_id, occurrence,
                 f"seed:{row['segment']}/{row['variant']}/{row['recipient']}",
                 campaign.channel, row["segment"], row["variant"], row["recipient"],
                 row["subject"], row["body"], status, reason, int(status == "sending"),
                 stamp, stamp, stamp, stamp)
                for key, row, status, reason in planned
            ],
        )  # fmt: skip
    out = []
    for key, row, status, reason in planned:
        status_text, provider_id = status, None
        if status == "sending":
            answer = channels[campaign.channel].send(
                OutgoingMessage(
                    idempotency_key=key, channel=campaign.channel, to=row["recipient"],
                    body=row["body"], subject=row["subject"], html=None, headers={},
                    metadata={"campaign_id": campaign_id, "test": "true"},
                )
            )  # fmt: skip
            status_text = "sent" if answer.status == "sent" else "failed"
            reason, provider_id = answer.error, answer.provider_message_id
            ws.store.execute(
                "UPDATE send_ledger SET status = ?, reason = ?, provider_message_id = ?, "
                "sent_at = ?, updated_at = ? WHERE message_key = ?",
                (status_text, reason, provider_id,
                 stamp if status_text == "sent" else None, stamp, key),
            )  # fmt: skip
        out.append({"segment": row["segment"], "variant": row["variant"],
                    "recipient": row["recipient"], "status": status_text,
                    "reason": reason or ""})  # fmt: skip
    return out


# --- delivery receipts ---------------------------------------------------------------------------

#: Receipt outcomes: a sent message becomes delivered or failed; other states are kept.
RECEIPT_TARGETS = {"delivered": "delivered", "failed": "failed"}


def record_receipt(
    ws: Workspace, reference: str, status: str, raw_status: str, at: datetime
) -> dict[str, Any]:
    """Apply a provider's delivery receipt to the ledger row whose provider message id or
    idempotency key (``message_key``) is ``reference``.

    ``result`` is ``updated`` (sent → delivered / failed), ``unchanged`` (a pending receipt, a
    repeat, or a row already final), ``not_sent`` (the row is still queued or sending: the
    provider should retry) or ``unknown``."""
    rows = ws.store.query(
        "SELECT message_key, status FROM send_ledger WHERE message_key = ? "
        "OR provider_message_id = ? ORDER BY message_key LIMIT 1",
        (reference, reference),
    )
    if not rows:
        return {"result": "unknown", "message_key": None, "status": None}
    key, current = rows[0]["message_key"], rows[0]["status"]
    target = RECEIPT_TARGETS.get(status)
    if current in ("queued", "sending"):
        return {"result": "not_sent", "message_key": key, "status": current}
    if target is None or current != "sent":
        return {"result": "unchanged", "message_key": key, "status": current}
    error = None if target == "delivered" else f"receipt: {raw_status}"[:500]
    updated = ws.store.query(
        "UPDATE send_ledger SET status = ?, error = coalesce(?, error), updated_at = ? "
        "WHERE message_key = ? AND status = 'sent' RETURNING status",
        (target, error, naive(at), key),
    )
    result = "updated" if updated else "unchanged"
    return {"result": result, "message_key": key, "status": target if updated else current}


# --- the worker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerReport:
    planned: int
    delivered: int
    completed: int


def _complete_finished(ws: Workspace, now: datetime) -> int:
    done = 0
    for stored in campaign_store.list_campaigns(ws.store):
        if stored.state != CampaignState.SENDING:
            continue
        if campaign_store.pending_count(ws.store, stored.campaign_id):
            continue
        target = CampaignState.SCHEDULED if stored.next_run_at else CampaignState.COMPLETED
        if campaign_store.set_state(ws.store, stored.campaign_id, target, now,
                                    expected=[CampaignState.SENDING]):  # fmt: skip
            done += 1
    return done


def _plan_due(ws: Workspace, now: datetime) -> int:
    planned = 0
    rows = ws.store.query(
        "SELECT campaign_id, next_run_at FROM campaigns WHERE state IN ('scheduled', 'sending') "
        "AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at, campaign_id",
        (naive(now),),
    )
    for row in rows:
        if start_occurrence(ws, row["campaign_id"], now) is not None:
            planned += 1
    return planned


def run_worker(
    ws: Workspace,
    *,
    once: bool = False,
    until_idle: bool = False,
    worker_id: str | None = None,
    poll_seconds: float = 1.0,
    batch_size: int | None = None,
    clock: Callable[[], datetime] = now_utc,
    should_stop: Callable[[], bool] = lambda: False,
    guard: Callable[[], AbstractContextManager[None]] | None = None,
    sleep: Callable[[float], Any] = time.sleep,
) -> WorkerReport:
    """Plan due occurrences and deliver due ledger rows; ``once``: one round; ``until_idle``:
    until nothing is due now. ``guard`` is held around every store access (the server passes
    its workspace lock); ``sleep`` waits between idle polls (the server's wakes on stop)."""
    delivery = ws.settings.delivery
    deliverer = Deliverer(
        store=ws.store,
        channels=open_channels(ws),
        worker_id=worker_id or f"{socket.gethostname()}:{os.getpid()}",
        refusals=delivery_refusals(ws),
        retry=RetryPolicy(delivery.max_attempts, delivery.backoff_seconds),
        lease_seconds=delivery.lease_seconds,
        batch_size=batch_size or delivery.batch_size,
        rates={ch: RateLimiter(rate) for ch, rate in ws.settings.send_rate_per_second.items()},
        sender_ids=_sender_ids(ws),
        clock=clock,
        guard=guard or nullcontext,
    )
    try:
        return _loop(ws, deliverer, once, until_idle, poll_seconds, clock, should_stop, sleep)
    finally:
        close_channels(deliverer.channels.values())


def _loop(
    ws: Workspace,
    deliverer: Deliverer,
    once: bool,
    until_idle: bool,
    poll_seconds: float,
    clock: Callable[[], datetime],
    should_stop: Callable[[], bool],
    sleep: Callable[[float], Any],
) -> WorkerReport:
    guard = deliverer.guard
    deliverer.start()
    planned = delivered = completed = 0
    while not should_stop():
        with guard():
            planned += _plan_due(ws, clock())
        extra = _automation_step(ws, clock, guard)  # timers and automations (docs/automations.md)
        handled = deliverer.deliver_once()
        delivered += handled
        while handled and not should_stop():
            handled = deliverer.deliver_once()
            delivered += handled
        with guard():
            completed += _complete_finished(ws, clock())
        if once:
            break
        if until_idle and not handled and not extra:
            with guard():
                due = _anything_due(ws, clock())
            if not due:
                break
        if not handled:
            sleep(poll_seconds)
    return WorkerReport(planned, delivered, completed)


def _automation_step(
    ws: Workspace, clock: Callable[[], datetime], guard: Callable[[], AbstractContextManager[None]]
) -> bool:
    from segmentum.service.automations import worker_step

    return worker_step(ws, clock, guard).busy


def _anything_due(ws: Workspace, now: datetime) -> bool:
    due = campaign_store.next_due(ws.store)
    if due is not None and due <= naive(now):
        return True
    stale = ws.store.scalar(
        "SELECT count(*) FROM send_ledger l JOIN campaigns c ON c.campaign_id = l.campaign_id "
        "WHERE c.state = 'sending' AND l.status = 'sending'"
    )
    if stale:
        return True
    runs = ws.store.scalar(
        "SELECT count(*) FROM campaigns WHERE state IN ('scheduled', 'sending') "
        "AND next_run_at IS NOT NULL AND next_run_at <= ?",
        (naive(now),),
    )
    return bool(runs)


def _sender_ids(ws: Workspace) -> dict[str, str | None]:
    senders: dict[str, str | None] = {"": ws.settings.sms_pricing.sender_id}
    for country, pricing in ws.settings.sms_pricing_by_country.items():
        senders[country.upper()] = pricing.sender_id or ws.settings.sms_pricing.sender_id
    return senders


def definition_json(ws: Workspace, campaign_id: str) -> dict[str, Any]:
    _, campaign = get_campaign(ws, campaign_id)
    return dict(json.loads(campaign.model_dump_json()))


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
