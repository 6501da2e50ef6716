"""Automation use cases: create, list, pause, resume, install the library, and the worker
step that turns membership changes into actions.

The worker step (``worker_step``, called by the campaign worker's loop, so by
``segmentum worker`` and the server's embedded worker alike):

1. real-time timers: customers whose time-bound conditions flip now are re-evaluated
   (``service.realtime.run_timers``);
2. the membership log since the last scan becomes pending runs (``store.automations``);
3. due runs are executed: ``send`` plans the messages through the campaigns' policy gate
   (consent, suppression, quiet hours, frequency caps with ``on_cap="defer"``) into the send
   ledger (source ``automation``), its links tracked and stored as a campaign's are
   (``service.tracking``); ``tag`` updates ``customers.tags``; ``webhook`` queues a
   signed HTTP POST;
4. queued automation messages are delivered by the campaigns' ``Deliverer`` (same ledger
   rules: key written before the provider call, retries with backoff);
5. due webhooks are posted (outside the workspace lock), retried with exponential backoff and
   dead-lettered after ``max_attempts`` failures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import ibis
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import ValidationError

from segmentum.campaigns.audience import Pricing, plan
from segmentum.campaigns.claims import Claim, Claimer
from segmentum.campaigns.ledger import RetryPolicy
from segmentum.campaigns.model import Campaign, SegmentTarget, Template
from segmentum.campaigns.policy import Policy
from segmentum.campaigns.worker import Deliverer, RateLimiter
from segmentum.engine.connection import EngineKind
from segmentum.membership.automations import Automation, SendAction, TagAction, WebhookAction
from segmentum.service import tracking
from segmentum.service.channels import close_channels, open_channels
from segmentum.service.clock import now_utc
from segmentum.service.consent import delivery_refusals
from segmentum.service.errors import ServiceError
from segmentum.service.last_order import with_last_order
from segmentum.service.workspace import Workspace
from segmentum.store import automations as automation_store
from segmentum.store import campaigns as campaign_store
from segmentum.store import segments as segment_store
from segmentum.store.campaigns import LEDGER_COLUMNS, naive

log = logging.getLogger("segmentum.automations")
SIGNATURE_HEADER = "X-Segmentum-Signature"
DELIVERY_HEADER = "X-Segmentum-Delivery"
LEDGER_PREFIX = "automation:"
_CHANNELS_KEY = "automations.channels"


# --- definitions -------------------------------------------------------------------------------


def _problem(item: Any) -> str:
    where = ".".join(str(part) for part in item["loc"]) or "automation"
    if item["type"] == "invalid_key" and isinstance(item["input"], bool):
        # YAML reads a bare on/off/yes/no key as a boolean: `trigger: {on: enter}`
        where = ".".join(str(part) for part in item["loc"][:-1]) or "automation"
        key = "on (or yes)" if item["input"] else "off (or no)"
        hint = "write when: enter or when: exit" if item["loc"][:1] == ("trigger",) else "quote it"
        return f"{where}: YAML reads the key {key} as {str(item['input']).lower()}; {hint}"
    return f"{where}: {item['msg']}"


def _describe(error: ValidationError) -> str:
    return "; ".join(_problem(item) for item in error.errors())


def parse_automation(data: Any) -> Automation:
    try:
        automation = Automation.model_validate(data)
    except ValidationError as error:
        raise ServiceError(f"invalid automation: {_describe(error)}") from error
    if isinstance(automation.action, SendAction):
        try:
            Template.model_validate(automation.action.template)
        except ValidationError as error:
            raise ServiceError(
                f"invalid automation {automation.name}: action.template: {_describe(error)}"
            ) from error
    return automation


def load_automation_file(path: Path) -> Automation:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ServiceError(f"cannot read {path}: {error}") from error
    return parse_automation(data)


def create_automation(
    ws: Workspace, automation: Automation, now: datetime | None = None
) -> dict[str, Any]:
    """Store an active automation; it acts on membership changes recorded from ``now`` on.
    Its segment, channel and template are checked first (``_check_references``)."""
    _check_references(ws, automation)
    try:
        automation_store.insert(
            ws.store, automation.name, automation.model_dump_json(), now or now_utc()
        )
    except Exception as error:
        raise ServiceError(str(error)) from error
    return {"name": automation.name, "state": "active"}


def get_automation(
    ws: Workspace, name: str
) -> tuple[automation_store.StoredAutomation, Automation]:
    stored = automation_store.get(ws.store, name)
    if stored is None:
        raise ServiceError(f"no automation named {name!r}")
    return stored, Automation.model_validate_json(stored.definition)


def list_automations(ws: Workspace) -> list[dict[str, Any]]:
    counts: dict[str, dict[str, int]] = {}
    for row in automation_store.run_counts(ws.store):
        per = counts.setdefault(row["automation"], {})
        per[row["status"]] = per.get(row["status"], 0) + int(row["runs"])
    out = []
    for stored in automation_store.list_all(ws.store):
        automation = Automation.model_validate_json(stored.definition)
        per = counts.get(stored.name, {})
        out.append(
            {
                "automation": stored.name,
                "state": stored.state,
                "trigger": f"{automation.trigger.when} {automation.trigger.segment}",
                "action": _action_text(automation),
                "delay": automation.delay or "",
                "pending": per.get("pending", 0),
                "done": per.get("done", 0),
                "skipped": per.get("skipped", 0),
                "failed": per.get("failed", 0),
            }
        )
    return out


def _action_text(automation: Automation) -> str:
    action = automation.action
    if isinstance(action, SendAction):
        return f"send {action.channel}"
    if isinstance(action, WebhookAction):
        return f"webhook {action.url}"
    parts = [f"+{tag}" for tag in action.add] + [f"-{tag}" for tag in action.remove]
    return "tag " + " ".join(parts)


def pause(ws: Workspace, name: str) -> str:
    get_automation(ws, name)
    automation_store.set_state(ws.store, name, "paused", now_utc())
    return "paused"


def resume(ws: Workspace, name: str) -> str:
    get_automation(ws, name)
    automation_store.set_state(ws.store, name, "active", now_utc())
    return "active"


def library_automations() -> list[dict[str, Any]]:
    text = resources.files("segmentum.spec").joinpath("library/automations.yaml")
    loaded = yaml.safe_load(text.read_text("utf-8"))
    assert isinstance(loaded, list)
    return loaded


def install_library(ws: Workspace, now: datetime | None = None) -> list[dict[str, Any]]:
    """Install every library automation whose segment and channel exist (the segments come
    from ``segmentum segments install-library``); report the others and why."""
    report = []
    for entry in library_automations():
        name = entry["name"]
        if automation_store.get(ws.store, name) is not None:
            report.append({"name": name, "status": "exists", "detail": ""})
            continue
        try:
            create_automation(ws, parse_automation(entry), now)
        except ServiceError as error:
            report.append({"name": name, "status": "skipped", "detail": str(error)})
            continue
        report.append({"name": name, "status": "installed", "detail": _action_text(
            parse_automation(entry))})  # fmt: skip
    return report


def runs(ws: Workspace, name: str | None = None) -> list[dict[str, Any]]:
    return automation_store.run_counts(ws.store, name)


def dead_letters(ws: Workspace) -> list[dict[str, Any]]:
    return automation_store.dead_letters(ws.store)


# --- reading and changing one automation (the REST API and the pages) ----------------------------

#: The definition's model, for the interfaces (a request body is validated against it).
Definition = Automation
#: How far back "recent firings" look in the overview.
RECENT = timedelta(days=7)
RUN_COLUMNS = ("run_id", "automation", "customer_id", "segment", "change", "effective_at",
               "due_at", "status", "outcome", "message_key", "updated_at")  # fmt: skip


def _check_references(ws: Workspace, automation: Automation) -> None:
    """The trigger's segment exists, and a send action's channel is configured and its
    template compiles and reads only known fields (on create and on update)."""
    if segment_store.get_segment(ws.store, automation.trigger.segment) is None:
        raise ServiceError(
            f"automation {automation.name}: no segment {automation.trigger.segment!r}"
        )
    action = automation.action
    if isinstance(action, SendAction):
        if action.channel not in ws.settings.channels:
            raise ServiceError(
                f"automation {automation.name}: no {action.channel} channel configured"
            )
        _check_template(ws, automation.name, action)


def _check_template(ws: Workspace, name: str, action: SendAction) -> None:
    """The checks a campaign's templates get (``service.campaigns.template_problems``)."""
    from segmentum.service.campaigns import template_problems

    template = Template.model_validate(action.template)
    problems = template_problems(ws, template, action.channel, "action.template",
                                 lambda tag: f".languages.{tag}")  # fmt: skip
    if problems:
        raise ServiceError(f"automation {name}: template problems: " + "; ".join(problems))


def _run_totals(ws: Workspace, name: str) -> dict[str, int]:
    totals = dict.fromkeys(automation_store.RUN_STATUSES, 0)
    for row in automation_store.run_counts(ws.store, name):
        totals[row["status"]] = totals.get(row["status"], 0) + int(row["runs"])
    return totals


def show_automation(ws: Workspace, name: str) -> dict[str, Any]:
    """One automation: state, trigger, action, its whole definition, its runs by status and
    the clicks on the tracked links of its messages (all, and distinct customers)."""
    stored, automation = get_automation(ws, name)
    return {
        "name": stored.name,
        "state": stored.state,
        "description": automation.description,
        "trigger": {"segment": automation.trigger.segment, "when": automation.trigger.when},
        "action": _action_text(automation),
        "delay": automation.delay,
        "definition": automation.model_dump(mode="json"),
        "occurrences": stored.occurrences,
        "runs": _run_totals(ws, name),
        "clicks": tracking.click_counts(ws, LEDGER_PREFIX + name),
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }


def update_automation(
    ws: Workspace, name: str, automation: Automation, now: datetime | None = None
) -> dict[str, Any]:
    """Replace an automation's definition; its state (active or paused) and its runs stay.
    Pending runs act with the new definition when they are due."""
    get_automation(ws, name)
    if automation.name != name:
        raise ServiceError(
            f"automation {name}: the name cannot change (got {automation.name!r}); "
            "create a new automation instead"
        )
    _check_references(ws, automation)
    ws.store.execute(
        "UPDATE automations SET definition = ?, updated_at = ? WHERE name = ?",
        (automation.model_dump_json(), naive(now or now_utc()), name),
    )
    return show_automation(ws, name)


def delete_automation(ws: Workspace, name: str) -> None:
    """Remove an automation and its runs. Messages it put in the send ledger stay (reports and
    frequency caps count them); those still queued are skipped, as a cancelled campaign's are;
    webhook calls not yet delivered are dropped (dead letters stay)."""
    get_automation(ws, name)
    with ws.store.transaction():
        ws.store.execute(
            "UPDATE send_ledger SET status = 'skipped', reason = 'cancelled' "
            "WHERE campaign_id = ? AND status = 'queued'",
            (LEDGER_PREFIX + name,),
        )
        ws.store.execute(
            "DELETE FROM webhook_deliveries WHERE automation = ? AND status = 'pending'", (name,)
        )
        ws.store.execute("DELETE FROM automation_runs WHERE automation = ?", (name,))
        ws.store.execute("DELETE FROM automations WHERE name = ?", (name,))


def run_page(
    ws: Workspace,
    name: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Runs (firings), newest membership change first, of one automation (404 if unknown) or of
    all; optionally of one status (pending, done, skipped, failed)."""
    if name is not None:
        get_automation(ws, name)
    conditions, params = [], []
    if name is not None:
        conditions.append("automation = ?")
        params.append(name)
    if status is not None:
        conditions.append("status = ?")
        params.append(status)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    total = int(ws.store.scalar(f"SELECT count(*) FROM automation_runs {where}", params) or 0)
    rows = ws.store.query(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM automation_runs {where} "
        "ORDER BY effective_at DESC, run_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return rows, total


def automation_overview(ws: Workspace, now: datetime | None = None) -> list[dict[str, Any]]:
    """``list_automations`` with each one's description, trigger parts, its last firing and
    how many runs its trigger started in the last week (``RECENT``)."""
    since = naive(now or now_utc()) - RECENT
    recent = {
        row["automation"]: row
        for row in ws.store.query(
            "SELECT automation, max(effective_at) AS last_run_at, "
            "sum(CASE WHEN effective_at >= ? THEN 1 ELSE 0 END) AS recent_runs "
            "FROM automation_runs GROUP BY automation",
            (since,),
        )
    }
    definitions = {
        stored.name: Automation.model_validate_json(stored.definition)
        for stored in automation_store.list_all(ws.store)
    }
    rows = []
    for row in list_automations(ws):
        automation = definitions[row["automation"]]
        fired = recent.get(row["automation"], {})
        rows.append(
            {
                **row,
                "description": automation.description,
                "segment": automation.trigger.segment,
                "when": automation.trigger.when,
                "last_run_at": fired.get("last_run_at"),
                "recent_runs": int(fired.get("recent_runs") or 0),
            }
        )
    return rows


# --- executing runs ----------------------------------------------------------------------------


def _policy(ws: Workspace) -> Policy:
    settings = ws.settings
    return Policy(
        timezone=settings.timezone,
        quiet_hours=settings.quiet_hours,
        quiet_hours_by_country=settings.quiet_hours_by_country,
        frequency_caps=settings.frequency_caps,
        on_cap="defer",
    )


def _ids_table(ids: list[str]) -> ibis.Table:
    return ibis.memtable(pa.table({"_id": pa.array(ids, pa.string())}))


def _audience(ws: Workspace, ids: list[str], segment: str) -> pa.Table:
    customers = ws.table("customers")
    wanted = _ids_table(ids)
    picked = customers.semi_join(wanted, customers.customer_id == wanted._id)
    recipients = with_last_order(ws, picked, wanted)  # ``last_order.*`` renders as in campaigns
    return recipients.mutate(segment=ibis.literal(segment, type="string")).to_pyarrow()


def _subscriptions(ws: Workspace, ids: list[str], channel: str) -> pa.Table:
    subs = ws.table("subscriptions")
    wanted = _ids_table(ids)
    rows = subs.filter(subs.channel == ibis.literal(channel)).semi_join(
        wanted, subs.customer_id == wanted._id
    )
    return rows.select("customer_id", "channel", "status", "changed_at").to_pyarrow()


def _recent(ws: Workspace, channel: str, now: datetime) -> pa.Table:
    hours = max((cap.per_hours for cap in ws.settings.frequency_caps), default=0)
    return campaign_store.recent_messages(
        ws.store, channel, now - timedelta(hours=hours), now + timedelta(hours=hours + 72)
    )


def _cap_release(ws: Workspace, ledger: pa.Table, recent: pa.Table, channel: str) -> pa.Table:
    """A message deferred by a frequency cap waits until the cap's window admits it: the
    instant the oldest message that fills the window leaves it."""
    reasons = ledger.column("reason").to_pylist()
    if "frequency_cap" not in reasons:
        return ledger
    caps = [cap for cap in ws.settings.frequency_caps if cap.channel == channel]
    sent: dict[str, list[datetime]] = {}
    for row in recent.to_pylist():
        sent.setdefault(row["customer_id"], []).append(row["at"])
    customers = ledger.column("customer_id").to_pylist()
    after = ledger.column("next_attempt_at").to_pylist()
    for index, reason in enumerate(reasons):
        if reason != "frequency_cap":
            continue
        times = sorted(sent.get(customers[index], []))
        release = after[index]
        for cap in caps:
            window = timedelta(hours=cap.per_hours)
            inside = [t for t in times if t > release - window]
            if len(inside) >= cap.max_messages:
                release = max(release, inside[len(inside) - cap.max_messages] + window)
        after[index] = release
    column = ledger.schema.get_field_index("next_attempt_at")
    return ledger.set_column(
        column, "next_attempt_at", pa.array(after, ledger.schema.field(column).type)
    )


@dataclass
class StepReport:
    collected: int = 0
    executed: int = 0
    delivered: int = 0
    webhooks: int = 0
    woken: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.collected or self.executed or self.delivered or self.webhooks)


def collect(ws: Workspace, now: datetime) -> int:
    return automation_store.collect_runs(ws.store, now)


def execute_due(ws: Workspace, now: datetime) -> int:
    """Run every due run's action (sends planned into the ledger, tags written, webhooks
    queued); returns the runs finished."""
    due = automation_store.due_runs(ws.store, now)
    if not due:
        return 0
    states = {stored.name: stored for stored in automation_store.list_all(ws.store)}
    by_automation: dict[str, list[dict[str, Any]]] = {}
    finished: list[tuple[str, str, str | None, str | None]] = []
    for run in due:
        stored = states.get(run["automation"])
        if stored is None or stored.state != "active":
            finished.append((run["run_id"], "skipped", "paused", None))
            continue
        automation = Automation.model_validate_json(stored.definition)
        wanted_member = run["change"] == "entered"
        if automation.delay and automation.if_still and bool(run["is_member"]) != wanted_member:
            finished.append((run["run_id"], "skipped", "no_longer_" + (
                "member" if wanted_member else "out"), None))  # fmt: skip
            continue
        by_automation.setdefault(run["automation"], []).append(run)
    if finished:
        automation_store.finish_runs(ws.store, finished, now)
    done = len(finished)
    for name, rows in by_automation.items():
        automation = Automation.model_validate_json(states[name].definition)
        first: dict[str, dict[str, Any]] = {}
        for row in rows:  # one run per customer per round; a second waits for the next
            first.setdefault(row["customer_id"], row)
        batch = list(first.values())
        action = automation.action
        if isinstance(action, SendAction):
            done += _send(ws, automation, action, batch, now)
        elif isinstance(action, TagAction):
            done += _tag(ws, action, batch, now)
        else:
            done += _queue_webhooks(ws, automation, action, batch, now)
    return done


def _send(
    ws: Workspace, automation: Automation, action: SendAction, batch: list[dict[str, Any]],
    now: datetime,
) -> int:  # fmt: skip
    ids = [row["customer_id"] for row in batch]
    segment = automation.trigger.segment
    audience = _audience(ws, ids, segment)
    campaign = Campaign(
        name=automation.name,
        channel=action.channel,
        segments=(
            SegmentTarget(segment=segment, template=Template.model_validate(action.template)),
        ),
    )
    campaign_id = LEDGER_PREFIX + automation.name
    recent = _recent(ws, action.channel, now)
    with ws.store.transaction():
        occurrence = automation_store.next_occurrence(ws.store, automation.name)
        result = plan(
            campaign, campaign_id, occurrence, audience,
            _subscriptions(ws, ids, action.channel),
            campaign_store.suppression_hashes_all(ws.store, action.channel),
            recent, _policy(ws), now,
            pricing=Pricing(ws.settings.sms_pricing, ws.settings.sms_pricing_by_country),
            currency=ws.settings.currency, source="automation",
            links=tracking.link_tracking(ws, campaign_id, action.channel),
        )  # fmt: skip
        ledger = _cap_release(ws, result.ledger, recent, action.channel)
        campaign_store.insert_arrow(ws.store, "send_ledger", ledger, LEDGER_COLUMNS)
        tracking.register_plan_links(ws, result, occurrence, now)
        keyed = {
            customer: (status, reason, key)
            for customer, status, reason, key in zip(
                ledger.column("customer_id").to_pylist(),
                ledger.column("status").to_pylist(),
                ledger.column("reason").to_pylist(),
                ledger.column("message_key").to_pylist(),
                strict=True,
            )
        }
        outcomes: list[tuple[str, str, str | None, str | None]] = []
        for row in batch:
            hit = keyed.get(row["customer_id"])
            if hit is None:
                outcomes.append((row["run_id"], "skipped", "no_customer", None))
            elif hit[0] == "queued":
                outcome = "deferred:" + hit[1] if hit[1] else "queued"
                outcomes.append((row["run_id"], "done", outcome, hit[2]))
            else:
                outcomes.append((row["run_id"], "skipped", hit[1], hit[2]))
        automation_store.finish_runs(ws.store, outcomes, now)
    return len(batch)


def _tag(ws: Workspace, action: TagAction, batch: list[dict[str, Any]], now: datetime) -> int:
    ids = [row["customer_id"] for row in batch]
    if "customers" in ws.settings.table_mappings or ws.engine.kind is not EngineKind.DUCKDB:
        outcomes = [(row["run_id"], "failed", "tags_read_only", None) for row in batch]
        automation_store.finish_runs(ws.store, outcomes, now)
        return len(batch)
    con = ws.engine.backend.con
    view = "automation_tag_ids"
    con.register(view, pa.table({"customer_id": pa.array(ids, pa.string())}))
    try:
        con.execute(
            "UPDATE customers SET tags = list_filter(list_distinct(list_concat("
            "coalesce(tags, []::VARCHAR[]), ?::VARCHAR[])), "
            "lambda x: NOT list_contains(?::VARCHAR[], x)) "
            f"WHERE customer_id IN (SELECT customer_id FROM {view})",
            [list(action.add), list(action.remove)],
        )
    finally:
        con.unregister(view)
    automation_store.finish_runs(
        ws.store, [(row["run_id"], "done", "tagged", None) for row in batch], now
    )
    from segmentum.service import realtime

    realtime.touch(ws, ids, {"customers"}, now)
    return len(batch)


def webhook_body(automation: Automation, run: Mapping[str, Any]) -> bytes:
    payload = {
        "automation": automation.name,
        "run_id": run["run_id"],
        "customer_id": run["customer_id"],
        "segment": run["segment"],
        "change": run["change"],
        "effective_at": naive(run["effective_at"]).isoformat() + "Z",
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` + HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _queue_webhooks(
    ws: Workspace, automation: Automation, action: WebhookAction, batch: list[dict[str, Any]],
    now: datetime,
) -> int:  # fmt: skip
    with ws.store.transaction():
        for run in batch:
            automation_store.add_webhook(
                ws.store,
                {
                    "delivery_id": run["run_id"], "run_id": run["run_id"],
                    "automation": automation.name, "customer_id": run["customer_id"],
                    "url": action.url, "body": webhook_body(automation, run).decode(), "at": now,
                },
            )  # fmt: skip
        automation_store.finish_runs(
            ws.store, [(run["run_id"], "done", "webhook_queued", None) for run in batch], now
        )
    return len(batch)


Guard = Callable[[], AbstractContextManager[Any]]


def deliver_webhooks(
    ws: Workspace,
    now: datetime,
    guard: Guard = nullcontext,
    client: httpx.Client | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """POST every due webhook (outside the lock), then record the answers."""
    env = os.environ if environ is None else environ
    with guard():
        due = automation_store.due_webhooks(ws.store, now)
        specs = {
            stored.name: Automation.model_validate_json(stored.definition)
            for stored in automation_store.list_all(ws.store)
        }
    if not due:
        return 0
    own = client is None
    http = client or httpx.Client()
    try:
        for delivery in due:
            automation = specs.get(delivery["automation"])
            action = automation.action if automation else None
            if not isinstance(action, WebhookAction):
                continue
            body = delivery["body"].encode()
            secret = env.get(action.secret_env)
            status: int | None = None
            error: str | None = None
            if not secret:
                error = f"environment variable {action.secret_env} is not set"
            else:
                try:
                    answer = http.post(
                        delivery["url"], content=body, timeout=action.timeout_seconds,
                        headers={"Content-Type": "application/json",
                                 SIGNATURE_HEADER: sign(secret, body),
                                 DELIVERY_HEADER: delivery["delivery_id"]},
                    )  # fmt: skip
                    status = answer.status_code
                    if not 200 <= status < 300:
                        error = f"HTTP {status}"
                except httpx.HTTPError as failure:
                    error = f"{type(failure).__name__}: {failure}"[:500]
            attempts = int(delivery["attempts"]) + 1
            retry_at = None
            if error is not None and attempts < action.max_attempts:
                retry_at = now + timedelta(seconds=action.backoff_seconds * 2 ** (attempts - 1))
            with guard():
                automation_store.record_webhook(
                    ws.store, delivery, delivered=error is None, http_status=status,
                    error=error, next_attempt_at=retry_at, now=now,
                )  # fmt: skip
    finally:
        if own:
            http.close()
    return len(due)


class AutomationClaimer(Claimer):
    """Claims due automation messages (source ``automation``) of active automations."""

    def claim(self, now: datetime, limit: int) -> Claim:
        naive_now = naive(now)
        stale = naive_now - timedelta(seconds=self.lease_seconds)
        columns = ", ".join(
            ("message_key", "campaign_id", "occurrence", "customer_id", "channel", "recipient",
             "country", "subject", "body", "html", "attempts", "segment", "variant")
        )  # fmt: skip
        with self.store.transaction():
            rows = campaign_store.query_arrow(
                self.store,
                f"SELECT {columns} FROM send_ledger WHERE source = 'automation' "
                "AND campaign_id IN (SELECT ? || name FROM automations WHERE state = 'active') "
                "AND ((status = 'queued' AND next_attempt_at <= ?) OR "
                "(status = 'sending' AND claimed_at < ?)) "
                "ORDER BY next_attempt_at, message_key LIMIT ?",
                (LEDGER_PREFIX, naive_now, stale, limit),
            )
            keys = rows.column("message_key").to_pylist() if rows.num_rows else []
            if keys:
                self.store.executemany(
                    "UPDATE send_ledger SET status = 'sending', claimed_by = ?, claimed_at = ? "
                    "WHERE message_key = ?",
                    [(self.worker_id, naive_now, key) for key in keys],
                )
        return Claim(rows)


@dataclass
class AutomationWorker:
    """The automation part of a worker: its own deliverer over the automation ledger rows."""

    ws: Workspace
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:auto")
    _deliverer: Deliverer | None = None

    def deliverer(self, clock: Callable[[], datetime], guard: Guard) -> Deliverer:
        if self._deliverer is None:
            ws = self.ws
            delivery = ws.settings.delivery
            channels = open_channels(ws)
            self._deliverer = Deliverer(
                store=ws.store, channels=channels, worker_id=self.worker_id,
                refusals=delivery_refusals(ws),
                retry=RetryPolicy(delivery.max_attempts, delivery.backoff_seconds),
                lease_seconds=delivery.lease_seconds, batch_size=delivery.batch_size,
                rates={ch: RateLimiter(r) for ch, r in ws.settings.send_rate_per_second.items()},
                clock=clock, guard=guard,
                _claimer=AutomationClaimer(ws.store, self.worker_id, delivery.lease_seconds),
            )  # fmt: skip
            with guard():
                ws.store.execute(
                    "UPDATE send_ledger SET claimed_at = TIMESTAMP '1970-01-01' WHERE status = "
                    "'sending' AND source = 'automation' AND claimed_by <> ?",
                    (self.worker_id,),
                )
        self._deliverer.clock = clock
        self._deliverer.guard = guard
        return self._deliverer

    def close(self) -> None:
        if self._deliverer is not None:
            close_channels(self._deliverer.channels.values())
            self._deliverer = None


def _worker(ws: Workspace) -> AutomationWorker:
    worker = ws.extras.get(_CHANNELS_KEY)
    if not isinstance(worker, AutomationWorker):
        worker = AutomationWorker(ws)
        ws.extras[_CHANNELS_KEY] = worker
    return worker


def worker_step(
    ws: Workspace,
    clock: Callable[[], datetime] = now_utc,
    guard: Guard = nullcontext,
    client: httpx.Client | None = None,
) -> StepReport:
    """One round: timers, collect, execute, deliver, webhooks. The lock (``guard``) is taken
    per store step, never around a provider or webhook call."""
    from segmentum.service import realtime

    report = StepReport()
    with guard():
        report.woken = realtime.run_timers(ws, clock())
        if not ws.store.scalar("SELECT count(*) FROM automations"):
            return report
        report.collected = collect(ws, clock())
        report.executed = execute_due(ws, clock())
    with guard():
        due = _anything_to_deliver(ws, clock())
    if due:
        worker = _worker(ws)
        try:
            deliverer = worker.deliverer(clock, guard)
            handled = deliverer.deliver_once()
            report.delivered += handled
            while handled:
                handled = deliverer.deliver_once()
                report.delivered += handled
        finally:
            worker.close()  # channels hold files and connections: one round at a time
    report.webhooks = deliver_webhooks(ws, clock(), guard, client)
    return report


def _anything_to_deliver(ws: Workspace, now: datetime) -> bool:
    return bool(
        ws.store.scalar(
            "SELECT count(*) FROM send_ledger WHERE source = 'automation' AND "
            "((status = 'queued' AND next_attempt_at <= ?) OR status = 'sending')",
            (naive(now),),
        )
    )


def pending_messages(ws: Workspace) -> int:
    return int(
        ws.store.scalar(
            "SELECT count(*) FROM send_ledger WHERE source = 'automation' "
            "AND status IN ('queued', 'sending')"
        )
        or 0
    )


def automation_messages(ws: Workspace, name: str) -> pa.Table:
    table = campaign_store.query_arrow(
        ws.store,
        "SELECT customer_id, channel, status, reason, body, next_attempt_at, sent_at "
        "FROM send_ledger WHERE campaign_id = ? ORDER BY customer_id, created_at",
        (LEDGER_PREFIX + name,),
    )
    return table.filter(pc.is_valid(table.column("customer_id"))) if table.num_rows else table


def now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
