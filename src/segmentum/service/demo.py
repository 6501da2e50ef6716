"""Use cases of the demo shop: load it into a workspace through the importers, or write the
benchmark files; and describe what a workspace's base looks like."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis

from segmentum.catalog.tables import CANCELLED_STATUS, CHANNELS, SENDABLE_STATUS
from segmentum.demo.generate import TABLE_ORDER, ShopConfig, write_shop
from segmentum.demo.shop import DEMO_TIMEZONE, demo_settings
from segmentum.service.clock import end_of_day, now_utc
from segmentum.service.errors import ServiceError
from segmentum.service.imports import ImportOptions, ImportSummary, import_file
from segmentum.service.workspace import Workspace

DEFAULT_CUSTOMERS = 50_000
DEFAULT_SEED = 42


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
    return int(_scalar(ws.engine.table(table).count()))


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
    customers = ws.engine.table("customers")
    orders = ws.engine.table("orders")
    subscriptions = ws.engine.table("subscriptions")
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
