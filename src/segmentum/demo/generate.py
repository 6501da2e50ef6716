"""The demo shop generator: deterministic, vectorised, any size, one table per Parquet file.

Customers are generated in chunks of ``CHUNK_CUSTOMERS``; each chunk draws from its own random
stream (seed, chunk number), so the data depends only on the seed, the sizes and the end
instant, and a million customers never sit in memory at once. Every instant is placed relative
to ``end``: the same seed with another end gives the same shop moved in time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from segmentum.catalog.schema import Catalog
from segmentum.catalog.tables import CHANNELS, LEAD_STAGES
from segmentum.demo.activity import (
    Orders,
    make_items,
    make_orders,
    make_returns,
)
from segmentum.demo.arrow import Ints, choice, ids, instants, money, pick, source_schema
from segmentum.demo.events import events_columns, make_events
from segmentum.demo.shop import DAY, Profiles, demo_catalog, make_products, make_profiles
from segmentum.demo.vocabulary import LOYALTY_TIERS, RETURN_REASONS, STORES

#: Tables in the order they must be imported (referenced tables first).
TABLE_ORDER: tuple[str, ...] = (
    "products",
    "customers",
    "orders",
    "order_items",
    "returns",
    "events",
    "subscriptions",
)
CHUNK_CUSTOMERS = 100_000
ORDERS_PER_CUSTOMER = 10
HISTORY_YEARS = 3


@dataclass(frozen=True)
class ShopConfig:
    """What to generate. ``end`` is the instant the history ends (UTC, exclusive)."""

    end: datetime
    customers: int = 50_000
    #: Target order count (the result is within a fraction of a percent); default 10 per customer.
    orders: int | None = None
    seed: int = 42

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError("customers must be at least 1")
        if self.orders is not None and self.orders < 0:
            raise ValueError("orders must not be negative")
        if self.end.tzinfo is None:
            raise ValueError("end must be an aware datetime")

    @property
    def target_orders(self) -> int:
        return self.customers * ORDERS_PER_CUSTOMER if self.orders is None else self.orders

    @property
    def end_s(self) -> int:
        return int(self.end.astimezone(UTC).timestamp())

    @property
    def start_s(self) -> int:
        return self.end_s - HISTORY_YEARS * 365 * DAY


def _stream(seed: int, chunk: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 2, chunk])))


def _width(count: int, minimum: int) -> int:
    return max(minimum, len(str(count)))


def _build(catalog: Catalog, name: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = source_schema(catalog.table(name))
    return pa.table([columns[column] for column in schema.names], schema=schema)


def _customer_columns(
    rng: np.random.Generator, profiles: Profiles, orders: Orders
) -> dict[str, pa.Array]:
    n = profiles.count
    buyer = orders.buyer
    # Loyalty: heavier buyers join more often and reach higher tiers.
    rank = np.empty(n, dtype=np.float64)
    rank[np.argsort(orders.rate, kind="stable")] = np.arange(n) / max(n - 1, 1)
    member = rng.random(n) < np.where(buyer, 0.1 + 0.5 * rank, 0.04)
    tier = np.where(rank >= 0.92, 2, np.where(rank >= 0.65, 1, 0))
    tier = np.where(buyer, tier, 0)
    lead = np.where(buyer, 2, choice(rng, [0.55, 0.35, 0.10], n))  # 3 means no stage
    columns = dict(profiles.columns)
    columns["signup_at"] = instants(profiles.signup_s)
    columns["loyalty_member"] = pa.array(member, pa.bool_())
    columns["loyalty_tier"] = pick(LOYALTY_TIERS, tier, ~member)
    columns["lead_stage"] = pick(LEAD_STAGES, np.minimum(lead, 2), lead == 3)
    return columns


def _subscriptions(rng: np.random.Generator, profiles: Profiles, end_s: int) -> dict[str, pa.Array]:
    """Consent rows: opted in near sign-up, opted out later, some still pending."""
    n = profiles.count
    plans = {
        "email": (profiles.has_email & (rng.random(n) < 0.85), (0.72, 0.2, 0.08)),
        "sms": (profiles.has_phone & (rng.random(n) < 0.6), (0.75, 0.2, 0.05)),
        "web_push": (rng.random(n) < 0.3, (0.8, 0.2, 0.0)),
    }
    who_parts: list[Ints] = []
    channel_parts: list[Ints] = []
    status_parts: list[Ints] = []
    for name, (has_row, weights) in plans.items():
        number = CHANNELS.index(name)
        who = np.flatnonzero(has_row).astype(np.int64)
        who_parts.append(who)
        channel_parts.append(np.full(len(who), number, dtype=np.int64))
        status_parts.append(choice(rng, weights, len(who)))
    who = np.concatenate(who_parts)
    channel = np.concatenate(channel_parts)
    status = np.concatenate(status_parts)
    order = np.lexsort((channel, who))
    who, channel, status = who[order], channel[order], status[order]
    signup = profiles.signup_s[who]
    room = end_s - 1 - signup
    window = np.where(status == 0, np.minimum(room, 30 * DAY), room)
    window = np.where(status == 2, np.minimum(room, 3 * DAY), window)
    changed = signup + (rng.random(len(who)) * window).astype(np.int64)
    sources = ("checkout", "signup form", "store", "unsubscribe link", "double opt-in")
    source = np.where(status == 0, rng.integers(0, 3, len(who)), np.where(status == 1, 3, 4))
    return {
        "customer_id": profiles.customer_ids.take(pa.array(who)),
        "channel": pick(CHANNELS, channel),
        "status": pick(("opted_in", "opted_out", "pending"), status),
        "changed_at": instants(changed),
        "source": pick(sources, source),
    }


def generate_chunks(config: ShopConfig) -> Iterator[dict[str, pa.Table]]:
    """The shop as a sequence of table pieces: the product feed first, then customer chunks."""
    catalog = demo_catalog()
    products = make_products(config.seed, catalog)
    yield {"products": products.table}
    end_s, start_s = config.end_s, config.start_s
    customer_width = _width(config.customers, 6)
    order_width = _width(config.target_orders * 2, 7)
    next_order = next_return = next_event = 1
    for chunk, first in enumerate(range(0, config.customers, CHUNK_CUSTOMERS)):
        rng = _stream(config.seed, chunk)
        count = min(CHUNK_CUSTOMERS, config.customers - first)
        target = round(config.target_orders * (first + count) / config.customers) - round(
            config.target_orders * first / config.customers
        )
        profiles = make_profiles(rng, first + 1, count, start_s, end_s, customer_width)
        orders = make_orders(rng, profiles, target, end_s, len(STORES))
        items, amounts = make_items(rng, orders, profiles, products)
        orders = replace(orders, amount_cents=amounts)
        order_count = len(orders.customer)
        order_ids = ids("O", np.arange(next_order, next_order + order_count), order_width)
        next_order += order_count
        returns = make_returns(rng, orders, items, end_s, len(RETURN_REASONS))
        return_count = len(returns.order)
        return_ids = ids("R", np.arange(next_return, next_return + return_count), 6)
        next_return += return_count
        blocks = make_events(
            rng, profiles, orders, items, returns, products, order_ids, return_ids, end_s
        )
        event_columns, event_at = events_columns(blocks, catalog, profiles.customer_ids)
        event_count = len(event_at)
        event_columns["event_id"] = ids("E", np.arange(next_event, next_event + event_count), 8)
        event_columns["occurred_at"] = instants(event_at)
        next_event += event_count
        status = np.where(orders.recent, np.where(rng.random(order_count) < 0.5, 1, 2), 0)
        status = np.where(orders.cancelled, 3, status)
        yield {
            "customers": _build(catalog, "customers", _customer_columns(rng, profiles, orders)),
            "orders": _build(
                catalog,
                "orders",
                {
                    "order_id": order_ids,
                    "customer_id": profiles.customer_ids.take(pa.array(orders.customer)),
                    "ordered_at": instants(orders.ordered_s),
                    "amount": money(orders.amount_cents),
                    "currency": pa.array(["CZK"] * order_count, pa.string()),
                    "status": pick(("completed", "processing", "shipped", "cancelled"), status),
                    "store": pick([name for name, _ in STORES], orders.store),
                },
            ),
            "order_items": _build(
                catalog,
                "order_items",
                {
                    "order_id": order_ids.take(pa.array(items.order)),
                    "product_id": products.product_ids.take(pa.array(items.product)),
                    "quantity": pa.array(items.quantity, pa.int64()),
                    "unit_price": money(items.unit_cents),
                },
            ),
            "returns": _build(
                catalog,
                "returns",
                {
                    "return_id": return_ids,
                    "order_id": order_ids.take(pa.array(returns.order)),
                    "customer_id": profiles.customer_ids.take(
                        pa.array(orders.customer[returns.order])
                    ),
                    "product_id": products.product_ids.take(pa.array(items.product[returns.item])),
                    "quantity": pa.array(np.ones(return_count, dtype=np.int64), pa.int64()),
                    "amount": money(items.unit_cents[returns.item]),
                    "returned_at": instants(returns.returned_s),
                    "reason": pick(RETURN_REASONS, returns.reason),
                },
            ),
            "events": _build(catalog, "events", event_columns),
            "subscriptions": _build(catalog, "subscriptions", _subscriptions(rng, profiles, end_s)),
        }


def generate_shop(config: ShopConfig) -> dict[str, pa.Table]:
    """The whole shop in memory (for small sizes: the demo and tests)."""
    pieces: dict[str, list[pa.Table]] = {name: [] for name in TABLE_ORDER}
    for chunk in generate_chunks(config):
        for name, table in chunk.items():
            pieces[name].append(table)
    return {name: pa.concat_tables(pieces[name]) for name in TABLE_ORDER}


def write_shop(
    config: ShopConfig,
    directory: Path,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Path]:
    """Write ``<table>.parquet`` per table into ``directory``; return the files by table.

    ``progress(customers_done, customers_total)`` is called after each chunk.
    """
    directory.mkdir(parents=True, exist_ok=True)
    catalog = demo_catalog()
    paths = {name: directory / f"{name}.parquet" for name in TABLE_ORDER}
    writers = {
        name: pq.ParquetWriter(paths[name], source_schema(catalog.table(name)))
        for name in TABLE_ORDER
    }
    done = 0
    try:
        for chunk in generate_chunks(config):
            for name, table in chunk.items():
                writers[name].write_table(table)
            if "customers" in chunk:
                done += chunk["customers"].num_rows
                if progress is not None:
                    progress(done, config.customers)
    finally:
        for writer in writers.values():
            writer.close()
    return paths
