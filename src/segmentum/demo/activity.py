"""Purchases of one chunk of customers: orders, their items and returns, vectorised.

Each buyer has a heavy-tailed purchase rate (log-normal) and an activity pattern: still active,
churned after a while, or churned and come back after a gap of 150+ days ("returned"). About a
fifth of the customers never buy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segmentum.demo.arrow import Bools, Floats, Ints, choice, group_positions
from segmentum.demo.shop import DAY, Products, Profiles

NEVER_BOUGHT_SHARE = 0.2
ACTIVE, CHURNED, RETURNED = 0, 1, 2
#: Local shopping hours 0..23 (evenings peak).
HOUR_WEIGHTS: tuple[float, ...] = (
    0.4, 0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 1.5, 2.5, 3.5, 4.5, 5.0,
    5.5, 5.0, 4.5, 4.5, 5.0, 5.5, 6.5, 7.5, 8.0, 7.0, 4.0, 1.5,
)  # fmt: skip
MIN_ORDER_CENTS = 200_00
CANCELLED_SHARE = 0.03
RETURN_SHARE = 0.06
#: Cap of the log-normal purchase rate (median 1).
MAX_RATE = 25.0


@dataclass(frozen=True)
class Orders:
    """Orders sorted by customer, then time."""

    customer: Ints  # index into the chunk's profiles
    ordered_s: Ints
    amount_cents: Ints
    cancelled: Bools
    recent: Bools  # placed in the last 3 days (processing/shipped)
    store: Ints
    per_customer: Ints
    buyer: Bools
    pattern: Ints
    rate: Floats


@dataclass(frozen=True)
class Items:
    order: Ints  # index into the chunk's orders
    product: Ints
    quantity: Ints
    unit_cents: Ints
    first_of_order: Ints  # per order: index of its first item


@dataclass(frozen=True)
class Returns:
    order: Ints
    item: Ints
    returned_s: Ints
    reason: Ints


def shop_times(rng: np.random.Generator, t: Ints, offset_h: Ints, low: Ints, end_s: int) -> Ints:
    """Move instants to a local shopping hour of their local day, kept in [low, end)."""
    local_day = (t + offset_h * 3600) // DAY
    seconds = choice(rng, HOUR_WEIGHTS, len(t)) * 3600 + rng.integers(0, 3600, len(t))
    moved = local_day * DAY + seconds - offset_h * 3600
    moved = np.where(moved >= end_s, moved - DAY, moved)
    return np.clip(moved, low, end_s - 1)


def make_orders(
    rng: np.random.Generator, profiles: Profiles, target_orders: int, end_s: int, stores: int
) -> Orders:
    n = profiles.count
    signup = profiles.signup_s
    buyer = rng.random(n) >= NEVER_BOUGHT_SHARE
    # Heavy-tailed, capped so the biggest buyer stays a person (a few hundred orders).
    rate = np.where(buyer, np.minimum(rng.lognormal(0.0, 1.1, n), MAX_RATE), 0.0)
    first = np.minimum(signup + rng.exponential(3.0 * DAY, n).astype(np.int64), end_s - 1)
    pattern = choice(rng, [0.4, 0.45, 0.15], n)
    churn_stop = np.minimum(first + rng.exponential(220.0 * DAY, n).astype(np.int64), end_s)
    late_start = end_s - rng.uniform(7.0, 200.0, n).astype(np.int64) * DAY
    early_stop = np.minimum(
        first + rng.exponential(150.0 * DAY, n).astype(np.int64), late_start - 150 * DAY
    )
    pattern = np.where((pattern == RETURNED) & (early_stop <= first), CHURNED, pattern)
    stop = np.where(pattern == ACTIVE, end_s, churn_stop)
    stop = np.where(pattern == RETURNED, early_stop, stop)
    early_len = np.maximum(stop - first, 1)
    late_len = np.where(pattern == RETURNED, end_s - late_start, 0)
    years = (early_len + late_len) / (365.0 * DAY)
    weight = np.where(buyer, rate * (years + 0.05), 0.0)
    extra = max(target_orders - int(buyer.sum()), 0)
    scale = extra / weight.sum() if weight.sum() > 0 else 0.0
    counts = np.where(buyer, 1 + rng.poisson(weight * scale), 0).astype(np.int64)
    counts = np.where(buyer & (pattern == RETURNED), np.maximum(counts, 2), counts)
    customer, position = group_positions(counts)
    total = len(customer)
    u = rng.random(total)
    is_last = position == counts[customer] - 1
    late_share = late_len / (early_len + late_len)
    late = (pattern[customer] == RETURNED) & (
        is_last | ((position > 0) & (rng.random(total) < late_share[customer]))
    )
    t = np.where(
        late,
        late_start[customer] + (u * late_len[customer]).astype(np.int64),
        first[customer] + (u * early_len[customer]).astype(np.int64),
    )
    t = np.where(position == 0, first[customer], t)
    t = shop_times(rng, t, profiles.utc_offset_h[customer], signup[customer], end_s)
    order = np.lexsort((t, customer))
    customer, t = customer[order], t[order]
    _, position = group_positions(counts)
    cancelled = (position > 0) & (rng.random(total) < CANCELLED_SHARE)
    return Orders(
        customer=customer,
        ordered_s=t,
        amount_cents=np.zeros(total, dtype=np.int64),
        cancelled=cancelled,
        recent=t >= end_s - 3 * DAY,
        store=choice(rng, [0.68, 0.17, 0.06, 0.05, 0.04][:stores], total),
        per_customer=counts,
        buyer=buyer,
        pattern=pattern,
        rate=rate,
    )


def make_items(
    rng: np.random.Generator, orders: Orders, profiles: Profiles, products: Products
) -> tuple[Items, Ints]:
    """Order lines (unique per order and product) and each order's amount in cents."""
    total = len(orders.customer)
    lines = 1 + np.minimum(rng.poisson(0.7, total), 5)
    order, _ = group_positions(lines.astype(np.int64))
    size = len(order)
    favourite = profiles.favourite_category[orders.customer[order]]
    in_favourite = products.category_start[favourite] + (
        rng.random(size) * products.category_size[favourite]
    ).astype(np.int64)
    cumulative = np.cumsum(products.popularity / products.popularity.sum())
    cumulative[-1] = 1.0
    popular = np.searchsorted(cumulative, rng.random(size), side="right").astype(np.int64)
    product = np.where(rng.random(size) < 0.55, in_favourite, popular)
    key = order * len(products.price_cents) + product
    keep = np.ones(size, dtype=bool)
    sorted_key = np.sort(key)  # keys are grouped by order already; sorting keeps that
    keep[1:] = sorted_key[1:] != sorted_key[:-1]
    key = sorted_key[keep]
    order = key // len(products.price_cents)
    product = key % len(products.price_cents)
    size = len(order)
    unit = products.price_cents[product]
    unit = np.where(products.on_promo[product], (unit * 85 // 10000) * 100, unit)
    unit = np.maximum(unit, 100)
    quantity = 1 + (rng.random(size) < 0.15) * rng.poisson(1.0, size)
    quantity = np.maximum(quantity, -(-MIN_ORDER_CENTS // unit))  # cheap lines come in packs
    quantity = np.minimum(quantity, 12).astype(np.int64)
    amount = np.bincount(order, weights=(quantity * unit).astype(np.float64), minlength=total)
    first_of_order = np.searchsorted(order, np.arange(total, dtype=np.int64))
    items = Items(
        order=order,
        product=product,
        quantity=quantity,
        unit_cents=unit.astype(np.int64),
        first_of_order=first_of_order.astype(np.int64),
    )
    return items, np.rint(amount).astype(np.int64)


def make_returns(
    rng: np.random.Generator, orders: Orders, items: Items, end_s: int, reasons: int
) -> Returns:
    """One returned piece of the first line of about 6% of the delivered orders."""
    candidates = np.flatnonzero(
        ~orders.cancelled & ~orders.recent & (rng.random(len(orders.customer)) < RETURN_SHARE)
    )
    returned = (
        orders.ordered_s[candidates]
        + rng.uniform(2.0, 30.0, len(candidates)).astype(np.int64) * DAY
        + rng.integers(0, DAY, len(candidates))
    )
    inside = returned < end_s
    candidates, returned = candidates[inside], returned[inside]
    return Returns(
        order=candidates,
        item=items.first_of_order[candidates],
        returned_s=returned,
        reason=rng.integers(0, reasons, len(candidates)),
    )
