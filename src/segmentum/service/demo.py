"""Use cases of the demo shop: load it into a workspace through the importers, or write the
benchmark files; describe what a workspace's base looks like; and run a segmented SMS campaign
to the file outbox (`run_demo_campaign`)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis

from segmentum.catalog.tables import CANCELLED_STATUS, CHANNELS, SENDABLE_STATUS
from segmentum.compiler.errors import InvalidSegmentsError
from segmentum.demo.generate import TABLE_ORDER, ShopConfig, write_shop
from segmentum.demo.shop import DEMO_TIMEZONE, demo_settings
from segmentum.service.clock import end_of_day, now_utc
from segmentum.service.defaults import DEFAULT_CUSTOMERS, DEFAULT_SEED
from segmentum.service.errors import ServiceError, user_errors
from segmentum.service.imports import ImportOptions, ImportSummary, import_file
from segmentum.service.workspace import Workspace


@dataclass(frozen=True)
class BaseSummary:
    """What a workspace's customer base looks like (printed after the demo loads)."""

    customers: int
    buyers: int
    never_bought: int
    orders: int
    revenue: Decimal
    currency: str
    first_order_at: datetime | None
    last_order_at: datetime | None
    countries: list[tuple[str, int]]
    subscribers: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "buyers": self.buyers,
            "never_bought": self.never_bought,
            "orders": self.orders,
            "revenue": self.revenue,
            "currency": self.currency,
            "first_order_at": self.first_order_at,
            "last_order_at": self.last_order_at,
            "countries": dict(self.countries),
            "subscribers": dict(self.subscribers),
        }


@dataclass(frozen=True)
class DemoResult:
    config: ShopConfig
    imports: list[ImportSummary]
    base: BaseSummary
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(summary.rejected for summary in self.imports)


def shop_config(
    customers: int = DEFAULT_CUSTOMERS,
    orders: int | None = None,
    end: date | None = None,
    seed: int = DEFAULT_SEED,
) -> ShopConfig:
    """``end`` is the last day of the history (its end in Europe/Prague); none means now."""
    if customers < 1:
        raise ServiceError("--customers must be at least 1")
    if orders is not None and orders < 0:
        raise ServiceError("--orders must not be negative")
    instant = now_utc().replace(microsecond=0) if end is None else end_of_day(end, DEMO_TIMEZONE)
    return ShopConfig(end=instant, customers=customers, orders=orders, seed=seed)


def generate_files(
    config: ShopConfig, out: Path, progress: Callable[[int, int], None] | None = None
) -> dict[str, Path]:
    """Write the shop as ``<table>.parquet`` files into ``out`` (nothing is loaded)."""
    try:
        return write_shop(config, out, progress)
    except OSError as error:
        raise ServiceError(f"cannot write the demo files into {out}: {error}") from error


def _scalar(expr: Any) -> Any:
    """A scalar expression's value (through Arrow: the pandas path warns on pandas 3)."""
    return expr.to_pyarrow().as_py()


def _row_count(ws: Workspace, table: str) -> int:
    return int(_scalar(ws.table(table).count()))


def load_demo(
    ws: Workspace,
    config: ShopConfig,
    *,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Generate the shop and load it through the importers, in dependency order.

    Refuses a workspace that already holds customers unless ``replace`` (which empties the
    data tables first; the app store is kept).
    """
    started = time.perf_counter()
    existing = _row_count(ws, "customers")
    if existing and not replace:
        raise ServiceError(
            f"the workspace already has {existing} customers; use another --db or --replace"
        )
    if replace:
        for table in TABLE_ORDER:
            ws.engine.raw_sql(f'DELETE FROM "{table}"')
    ws.update_settings(demo_settings(ws.settings))
    timings: dict[str, float] = {}
    summaries: list[ImportSummary] = []
    with tempfile.TemporaryDirectory(prefix="segmentum-demo-") as directory:
        if progress is not None:
            progress("generating")
        step = time.perf_counter()
        paths = write_shop(config, Path(directory))
        timings["generate"] = time.perf_counter() - step
        for table in TABLE_ORDER:
            if progress is not None:
                progress(f"importing {table}")
            step = time.perf_counter()
            options = ImportOptions(rejects_path=Path(directory) / f"{table}.rejected.csv")
            summaries.append(import_file(ws, table, paths[table], options))
            timings[table] = time.perf_counter() - step
    base = describe_base(ws)
    return DemoResult(config, summaries, base, time.perf_counter() - started, timings)


def describe_base(ws: Workspace) -> BaseSummary:
    """Customers, buyers, orders, revenue, date range, countries and subscribers per channel."""
    read = ws.tables_named("customers", "orders", "subscriptions")
    customers, orders, subscriptions = read["customers"], read["orders"], read["subscriptions"]
    purchases = orders.filter(
        orders.status.isnull() | (orders.status != ibis.literal(CANCELLED_STATUS))
    )
    customer_count = int(_scalar(customers.count()))
    buyers = int(_scalar(purchases.customer_id.nunique()))
    totals = (
        orders.aggregate(
            orders=orders.count(), first=orders.ordered_at.min(), last=orders.ordered_at.max()
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    revenue = _scalar(purchases.amount.sum())
    countries = (
        customers.group_by("country")
        .aggregate(n=customers.count())
        .order_by([ibis.desc("n"), "country"])
        .to_pyarrow()
        .to_pylist()
    )
    opted_in = subscriptions.filter(subscriptions.status == ibis.literal(SENDABLE_STATUS))
    per_channel = opted_in.group_by("channel").aggregate(n=opted_in.count()).to_pyarrow()
    by_channel = {row["channel"]: row["n"] for row in per_channel.to_pylist()}
    return BaseSummary(
        customers=customer_count,
        buyers=buyers,
        never_bought=customer_count - buyers,
        orders=int(totals["orders"]),
        revenue=Decimal(revenue) if revenue is not None else Decimal("0.00"),
        currency=ws.settings.currency,
        first_order_at=_utc(totals["first"]),
        last_order_at=_utc(totals["last"]),
        countries=[(row["country"] or "", int(row["n"])) for row in countries],
        subscribers={channel: int(by_channel.get(channel, 0)) for channel in CHANNELS},
    )


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# --- the demo campaign --------------------------------------------------------------------------

DEMO_CAMPAIGN = "demo_comeback"
#: The campaign runs at this local time (inside quiet hours' window) on the history's last
#: day, or the day before when that would leave its responses less than
#: `DEMO_RESPONSE_WINDOW` before the history ends (``demo_send_instant``).
DEMO_SEND_TIME = clock_time(10, 0)
#: The simulated responses stop where the history ends, so the send leaves them at least
#: this long: a demo run at 02:00 or 10:05 without ``--end`` still shows results.
DEMO_RESPONSE_WINDOW = timedelta(hours=12)
DEMO_PRICE_PER_SEGMENT = Decimal("0.90")
DEMO_SEGMENTS = ("abandoned_cart", "recent_buyers", "lifecycle_churn")


def demo_campaign_definition(name: str = DEMO_CAMPAIGN) -> dict[str, Any]:
    """An SMS campaign for three library segments, in priority order, each with Czech, Polish
    and Russian texts keyed on the customer's language and an English fallback; 10 % held out
    of each segment's eligible audience."""
    hello = "{{ first_name | default('') }}"
    return {
        "name": name,
        "description": "Demo: cart reminder, purchase follow-up and win-back by segment.",
        "channel": "sms",
        "segments": [
            {
                "segment": "abandoned_cart",
                "holdout_pct": 10,
                "template": {
                    "body": f"Hi {hello}, your cart is waiting. Finish your order: "
                    "shop.example/cart",
                    "languages": {
                        "cs": {"body": f"Dobrý den {hello}, košík na vás čeká. Dokončete "
                               "objednávku: shop.example/cart"},
                        "pl": {"body": f"Cześć {hello}, Twój koszyk czeka. Dokończ zamówienie: "
                               "shop.example/cart"},
                        "ru": {"body": f"Здравствуйте, {hello}! Ваша корзина ждёт: "
                               "shop.example/cart"},
                    },
                },
            },
            {
                "segment": "recent_buyers",
                "holdout_pct": 10,
                "template": {
                    "body": f"Thank you for order {{{{ last_order.number }}}}, {hello}! "
                    "Tell us how you like it: shop.example/review",
                    "languages": {
                        "cs": {"body": f"Děkujeme za objednávku {{{{ last_order.number }}}}, "
                               f"{hello}! Jak jste spokojeni? shop.example/review"},
                        "pl": {"body": f"Dziękujemy za zamówienie {{{{ last_order.number }}}}, "
                               f"{hello}! Jak oceniasz? shop.example/review"},
                        "ru": {"body": f"Спасибо за заказ {{{{ last_order.number }}}}, {hello}! "
                               "Оцените покупку: shop.example/review"},
                    },
                },
            },
            {
                "segment": "lifecycle_churn",
                "holdout_pct": 10,
                "template": {
                    "body": f"We miss you, {hello}! 15% off with code BACK15 this week: "
                    "shop.example",
                    "languages": {
                        "cs": {"body": f"Chybíte nám, {hello}! Sleva 15 % s kódem BACK15 "
                               "tento týden: shop.example"},
                        "pl": {"body": f"Tęsknimy, {hello}! 15% zniżki z kodem BACK15 w tym "
                               "tygodniu: shop.example"},
                        "ru": {"body": f"Мы скучаем, {hello}! Скидка 15% по коду BACK15 на "
                               "этой неделе: shop.example"},
                    },
                },
            },
        ],
        "schedule": {"type": "now"},
        "goal": {"type": "purchase", "within_days": 7},
    }  # fmt: skip


@dataclass(frozen=True)
class DemoCampaignResult:
    campaign_id: str
    sent_at: datetime
    #: Per segment: audience, eligible, held_out, sent, deferred, skipped by reason, SMS
    #: segments and cost.
    rows: list[dict[str, Any]]
    outbox: str | None
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: Per segment after simulated responses: treated and holdout conversion, uplift (pp)
    #: with its 95% interval, attributed revenue (from the campaign report).
    results: list[dict[str, Any]] = field(default_factory=list)


#: The report columns the demo shows per segment (and for the campaign, segment "*").
DEMO_RESULT_COLUMNS = (
    "segment", "treated", "converted", "conversion_rate", "holdout_n", "holdout_converted",
    "holdout_conversion_rate", "uplift_pp", "uplift_pp_low", "uplift_pp_high", "revenue",
)  # fmt: skip


def _demo_results(
    ws: Workspace, campaign_id: str, seed: int, as_of: datetime
) -> list[dict[str, Any]]:
    """Simulate responses that differ by segment, none after ``as_of`` (the instant the
    demo's history ends), then report each segment's uplift."""
    from segmentum.service.reports import report_campaign, simulate_responses

    simulate_responses(ws, campaign_id, seed, as_of)
    report = report_campaign(ws, campaign_id)
    return [
        {column: row.get(column) for column in DEMO_RESULT_COLUMNS}
        for row in report.rows
        if row.get("arm") == "*"
    ]


DEMO_SUMMARY_COLUMNS = (
    "segment", "audience", "eligible", "held_out", "sent", "deferred", "no_address",
    "no_consent", "suppressed", "frequency_cap", "budget", "render_error", "sms_segments",
    "cost",
)  # fmt: skip


def _free_campaign_name(ws: Workspace) -> str:
    from segmentum.service.campaigns import list_campaigns

    taken = {row["campaign"] for row in list_campaigns(ws)}
    name, number = DEMO_CAMPAIGN, 1
    while name in taken:
        number += 1
        name = f"{DEMO_CAMPAIGN}_{number}"
    return name


def _ensure_library(ws: Workspace) -> None:
    from segmentum.service.library import install_library
    from segmentum.service.segments import stored_definitions

    if not set(DEMO_SEGMENTS) <= set(stored_definitions(ws)):
        install_library(ws)


def _ensure_pricing(ws: Workspace) -> None:
    if ws.settings.sms_pricing.price_per_segment:
        return
    from segmentum.catalog.settings import WorkspaceSettings

    data = ws.settings.model_dump(mode="json")
    data["sms_pricing"] = {**data["sms_pricing"], "price_per_segment": str(DEMO_PRICE_PER_SEGMENT)}
    ws.update_settings(WorkspaceSettings.model_validate(data))


def demo_send_instant(as_of: datetime) -> datetime:
    """`DEMO_SEND_TIME` in Europe/Prague on the last day where it falls at least
    `DEMO_RESPONSE_WINDOW` before ``as_of`` (the history's end: with ``--end``, the end of
    that day, so the send is 10:00 that day; without, now)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(DEMO_TIMEZONE)
    latest = (as_of - DEMO_RESPONSE_WINDOW).astimezone(zone)
    at = datetime.combine(latest.date(), DEMO_SEND_TIME, tzinfo=zone)
    if at > latest:
        at = datetime.combine(latest.date() - timedelta(days=1), DEMO_SEND_TIME, tzinfo=zone)
    return at.astimezone(UTC)


def run_demo_campaign(
    ws: Workspace, config: ShopConfig, progress: Callable[[str], None] | None = None
) -> DemoCampaignResult:
    """Install the segment library, refresh memberships, create and send the demo campaign at
    10:00 (Europe/Prague) on the history's last day (``demo_send_instant``: the day before
    when that is less than 12 hours before the history's end), and run the worker until idle (the
    workspace's sms channel: by default the file outbox ``outbox/sms.jsonl``).

    Deterministic for a given seed and end day: the send instant is derived from the data,
    not the clock."""
    from zoneinfo import ZoneInfo

    from segmentum.service import campaigns as campaign_service
    from segmentum.service.clv import refresh as clv_refresh
    from segmentum.service.membership import refresh_segments

    started = time.perf_counter()
    timings: dict[str, float] = {}

    def step(name: str) -> None:
        timings[name] = time.perf_counter() - started - sum(timings.values())
        if progress is not None:
            progress(name)

    end_day = config.end.astimezone(ZoneInfo(DEMO_TIMEZONE)).date()
    notes: list[str] = []
    refusals: tuple[type[BaseException], ...] = (*user_errors(), InvalidSegmentsError)
    try:  # predictions first, so the library's predictive segments can be installed
        clv_refresh(ws, end_day)
    except refusals as error:
        notes.append(f"no CLV predictions: {' '.join(str(error).split())}")
    step("predictions")
    _ensure_library(ws)
    _ensure_pricing(ws)
    step("segment library")
    # as of the instant the history ends (now by default), not the end of its last day: a
    # later effective instant would make every plain refresh until midnight refused
    as_of = min(config.end, now_utc())
    try:
        refresh_segments(ws, at=as_of)
    except refusals as error:  # e.g. a library segment that needs data the demo lacks
        notes.append(f"memberships not refreshed: {' '.join(str(error).split())}")
    step("memberships")
    at = demo_send_instant(as_of)
    name = _free_campaign_name(ws)
    campaign = campaign_service.parse_campaign(demo_campaign_definition(name))
    campaign_service.create_campaign(ws, campaign)
    started_send = campaign_service.send(ws, name, now=at)
    step("plan")
    campaign_service.run_worker(ws, until_idle=True, poll_seconds=0.01, clock=lambda: at)
    step("deliver")
    results: list[dict[str, Any]] = []
    try:
        results = _demo_results(ws, name, config.seed, as_of)
    except refusals as error:  # e.g. a separate app store: the report needs a shared one
        notes.append(f"no simulated results: {' '.join(str(error).split())}")
    step("simulated responses")
    rows = _campaign_rows(ws, name, started_send["summary"])
    outbox = ws.settings.channels.get("sms", {})
    path = str(outbox["path"]) if outbox.get("type") == "outbox" else None
    return DemoCampaignResult(
        name, at, rows, path, time.perf_counter() - started, timings, tuple(notes), results
    )


def _campaign_rows(
    ws: Workspace, campaign_id: str, summary: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The plan's summary per segment, with what the worker actually sent."""
    ledger = ws.store.query(
        "SELECT segment, count(*) FILTER (WHERE status IN ('sent', 'delivered')) AS sent, "
        "count(*) FILTER (WHERE status IN ('queued', 'sending')) AS waiting "
        "FROM send_ledger WHERE campaign_id = ? AND source = 'campaign' GROUP BY segment",
        (campaign_id,),
    )
    by_segment = {row["segment"]: row for row in ledger}
    rows: dict[str, dict[str, Any]] = {}
    counted = [c for c in DEMO_SUMMARY_COLUMNS if c not in ("segment", "sent", "deferred")]
    for item in summary:
        row = rows.setdefault(item["segment"], {"segment": item["segment"]} | dict.fromkeys(
            counted, 0))  # fmt: skip
        for column in counted:
            row[column] += item[column] if item[column] is not None else 0
    out = []
    for segment, row in rows.items():
        found = by_segment.get(segment, {})
        row["sent"] = int(found.get("sent") or 0)
        row["deferred"] = int(found.get("waiting") or 0)
        out.append({column: row[column] for column in DEMO_SUMMARY_COLUMNS})
    return out
