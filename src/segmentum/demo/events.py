"""Behavioural events of one chunk of customers: carts, checkouts, inquiries, surveys, tickets.

Some carts are followed by their order within 24 hours, others are abandoned (no order of that
customer within 24 hours, guaranteed); some product inquiries precede buying that product;
surveys are sent after orders and answered by fewer than half the customers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmentum.catalog.schema import Catalog
from segmentum.demo.activity import Items, Orders, Returns
from segmentum.demo.arrow import (
    ARROW_TYPES,
    Bools,
    Ints,
    choice,
    group_positions,
    join,
    money,
    pick,
)
from segmentum.demo.shop import DAY, Products, Profiles
from segmentum.demo.vocabulary import INQUIRY_CHANNELS, TICKET_CHANNELS, TICKET_TOPICS

HOUR = 3600
CART_BEFORE_ORDER_SHARE = 0.4
CHECKOUT_SHARE = 0.7
ABANDONED_CARTS_PER_CUSTOMER = 0.3
INQUIRY_BEFORE_ORDER_SHARE = 0.08
SURVEY_SHARE = 0.12
SURVEY_RESPONSE_SHARE = 0.45
CSAT_WEIGHTS = (0.05, 0.07, 0.15, 0.33, 0.40)
NPS_WEIGHTS = (0.02, 0.01, 0.02, 0.03, 0.04, 0.06, 0.07, 0.12, 0.18, 0.2, 0.25)


@dataclass
class Block:
    """Events of one type: whose, when, typed properties and the raw JSON text."""

    type: str
    customer: Ints
    at: Ints
    properties: dict[str, pa.Array] = field(default_factory=dict)
    json: pa.Array | None = None


def _json(pairs: list[tuple[str, pa.Array, bool]]) -> pa.Array:
    """A JSON object per row from (key, text column, quoted); values are ids and numbers."""
    parts: list[pa.Array | str] = ["{"]
    for number, (key, values, quoted) in enumerate(pairs):
        prefix = ("," if number else "") + f'"{key}":' + ('"' if quoted else "")
        parts += [prefix, values.cast(pa.string())]
        if quoted:
            parts.append('"')
    parts.append("}")
    return join(*parts)


def _block(
    type_: str, customer: Ints, at: Ints, props: dict[str, pa.Array], raw: dict[str, pa.Array]
) -> Block:
    """``raw`` names columns already formatted as JSON values (lists, numbers)."""
    pairs = [(key, value, key not in raw) for key, value in props.items() if key not in raw]
    pairs += [(key, value, False) for key, value in raw.items()]
    return Block(type_, customer, at, props, _json(pairs))


def _not_followed_by_order(customer: Ints, at: Ints, orders: Orders, within_s: int) -> Bools:
    """True where the customer places no order in (at, at + within_s]."""
    if len(orders.customer) == 0:
        return np.ones(len(customer), dtype=bool)
    span = np.int64(1) << 40
    order_key = orders.customer * span + orders.ordered_s
    key = customer * span + at
    next_index = np.searchsorted(order_key, key, side="right")
    found = next_index < len(order_key)
    safe = np.minimum(next_index, len(order_key) - 1)
    soon: Bools = (
        found & (orders.customer[safe] == customer) & (orders.ordered_s[safe] - at <= within_s)
    )
    return ~soon


def make_events(
    rng: np.random.Generator,
    profiles: Profiles,
    orders: Orders,
    items: Items,
    returns: Returns,
    products: Products,
    order_ids: pa.Array,
    return_ids: pa.Array,
    end_s: int,
) -> list[Block]:
    signup = profiles.signup_s
    blocks: list[Block] = []
    total_orders = len(orders.customer)
    product_ids = products.product_ids
    line_json = join(
        '{"product_id":"',
        product_ids.take(pa.array(items.product)),
        '","quantity":',
        pa.array(items.quantity, pa.int64()).cast(pa.string()),
        "}",
    )
    offsets = np.concatenate([items.first_of_order, [len(items.order)]]).astype(np.int32)
    order_items_json = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), line_json)

    # Carts that became an order within 24 hours, most with a checkout in between.
    sel = np.flatnonzero(rng.random(total_orders) < CART_BEFORE_ORDER_SHARE)
    who = orders.customer[sel]
    cart_at = np.maximum(
        orders.ordered_s[sel] - rng.integers(5 * 60, 20 * HOUR, len(sel)), signup[who]
    )
    before = cart_at < orders.ordered_s[sel]  # an order at the sign-up instant has no cart
    sel, who, cart_at = sel[before], who[before], cart_at[before]
    take = pa.array(sel, pa.int64())
    cart_id = join("cart-", order_ids.take(take))
    value = money(orders.amount_cents[sel])
    items_text = join("[", pc.binary_join(order_items_json.take(take), ","), "]")
    first_product = product_ids.take(pa.array(items.product[items.first_of_order[sel]]))
    blocks.append(
        _block(
            "cart_updated",
            who,
            cart_at,
            {"cart_id": cart_id, "items": items_text, "value": value, "product_id": first_product},
            {"items": items_text, "value": value},
        )
    )
    checkout = rng.random(len(sel)) < CHECKOUT_SHARE
    gap = orders.ordered_s[sel] - cart_at
    checkout_at = cart_at + (rng.random(len(sel)) * gap).astype(np.int64)
    mask = pa.array(checkout)
    blocks.append(
        _block(
            "checkout_started",
            who[checkout],
            checkout_at[checkout],
            {"cart_id": cart_id.filter(mask), "value": value.filter(mask)},
            {"value": value.filter(mask)},
        )
    )

    # Abandoned carts: no order of that customer within 24 hours; a third reached checkout.
    counts = rng.poisson(ABANDONED_CARTS_PER_CUSTOMER, profiles.count).astype(np.int64)
    who, position = group_positions(counts)
    at = signup[who] + ((end_s - signup[who]) * rng.random(len(who)) ** 0.6).astype(np.int64)
    keep = _not_followed_by_order(who, at, orders, DAY)
    who, position, at = who[keep], position[keep], at[keep]
    cumulative = np.cumsum(products.popularity / products.popularity.sum())
    cumulative[-1] = 1.0
    product = np.searchsorted(cumulative, rng.random(len(who)), side="right").astype(np.int64)
    quantity = rng.integers(1, 3, len(who))
    cart_id = join(
        "cart-",
        profiles.customer_ids.take(pa.array(who)),
        "-",
        pa.array(position, pa.int64()).cast(pa.string()),
    )
    pid = product_ids.take(pa.array(product))
    value = money(products.price_cents[product] * quantity)
    items_text = join(
        '[{"product_id":"',
        pid,
        '","quantity":',
        pa.array(quantity, pa.int64()).cast(pa.string()),
        "}]",
    )
    blocks.append(
        _block(
            "cart_updated",
            who,
            at,
            {"cart_id": cart_id, "items": items_text, "value": value, "product_id": pid},
            {"items": items_text, "value": value},
        )
    )
    checkout = (rng.random(len(who)) < 0.3) & (at + 30 * 60 < end_s)
    mask = pa.array(checkout)
    blocks.append(
        _block(
            "checkout_started",
            who[checkout],
            at[checkout] + rng.integers(60, 30 * 60, int(checkout.sum())),
            {"cart_id": cart_id.filter(mask), "value": value.filter(mask)},
            {"value": value.filter(mask)},
        )
    )

    # Product inquiries: some before buying that very product, others never followed.
    sel = np.flatnonzero(rng.random(total_orders) < INQUIRY_BEFORE_ORDER_SHARE)
    who = orders.customer[sel]
    at = np.maximum(orders.ordered_s[sel] - rng.integers(HOUR, 7 * DAY, len(sel)), signup[who])
    before = at < orders.ordered_s[sel]
    sel, who, at = sel[before], who[before], at[before]
    product = items.product[items.first_of_order[sel]]
    counts = rng.poisson(0.12, profiles.count).astype(np.int64)
    more_who, _ = group_positions(counts)
    more_at = signup[more_who] + ((end_s - signup[more_who]) * rng.random(len(more_who))).astype(
        np.int64
    )
    more_product = rng.integers(0, len(products.price_cents), len(more_who))
    who = np.concatenate([who, more_who])
    at = np.concatenate([at, more_at])
    product = np.concatenate([product, more_product])
    blocks.append(
        _block(
            "product_inquiry",
            who,
            at,
            {
                "product_id": product_ids.take(pa.array(product)),
                "channel": pick(INQUIRY_CHANNELS, choice(rng, [0.5, 0.25, 0.1, 0.15], len(who))),
            },
            {},
        )
    )

    # Surveys after delivered orders; fewer than half answer (CSAT 1-5 or NPS 0-10).
    sel = np.flatnonzero(~orders.cancelled & (rng.random(total_orders) < SURVEY_SHARE))
    sent_at = orders.ordered_s[sel] + 2 * DAY + rng.integers(0, 6 * HOUR, len(sel))
    inside = sent_at < end_s
    sel, sent_at = sel[inside], sent_at[inside]
    who = orders.customer[sel]
    nps = rng.random(len(sel)) < 0.35
    survey_id = join(
        pick(["csat-", "nps-"], nps.astype(np.int64)), order_ids.take(pa.array(sel, pa.int64()))
    )
    blocks.append(_block("survey_sent", who, sent_at, {"survey_id": survey_id}, {}))
    answer_at = sent_at + rng.integers(10 * 60, 3 * DAY, len(sel))
    answered = (rng.random(len(sel)) < SURVEY_RESPONSE_SHARE) & (answer_at < end_s)
    for is_nps, name, weights, low in (
        (False, "csat", CSAT_WEIGHTS, 1),
        (True, "nps", NPS_WEIGHTS, 0),
    ):
        chosen = answered & (nps == is_nps)
        score = pa.array(low + choice(rng, weights, int(chosen.sum())), pa.int64())
        blocks.append(
            _block(
                "survey_response",
                who[chosen],
                answer_at[chosen],
                {"survey_id": survey_id.filter(pa.array(chosen)), name: score},
                {name: score},
            )
        )

    # Support tickets: a few per customer, and about half of the returns.
    rate = np.where(orders.buyer, 0.1, 0.03)
    counts = rng.poisson(rate).astype(np.int64)
    who, position = group_positions(counts)
    at = signup[who] + ((end_s - signup[who]) * rng.random(len(who))).astype(np.int64)
    ticket_id = join(
        "T-",
        profiles.customer_ids.take(pa.array(who)),
        "-",
        pa.array(position, pa.int64()).cast(pa.string()),
    )
    topic = pick(TICKET_TOPICS, rng.integers(0, len(TICKET_TOPICS), len(who)))
    chosen = rng.random(len(returns.order)) < 0.5
    return_who = orders.customer[returns.order[chosen]]
    return_at = np.maximum(
        returns.returned_s[chosen] - rng.integers(HOUR, 2 * DAY, int(chosen.sum())),
        signup[return_who],
    )
    who = np.concatenate([who, return_who])
    at = np.concatenate([at, return_at])
    ticket_id = pa.concat_arrays([ticket_id, join("T-", return_ids.filter(pa.array(chosen)))])
    topic = pa.concat_arrays([topic, pa.array(["return"] * int(chosen.sum()), pa.string())])
    blocks.append(
        _block(
            "support_ticket",
            who,
            at,
            {
                "ticket_id": ticket_id,
                "topic": topic,
                "channel": pick(TICKET_CHANNELS, choice(rng, [0.5, 0.3, 0.2], len(who))),
            },
            {},
        )
    )
    return blocks


def events_columns(
    blocks: list[Block], catalog: Catalog, customer_ids: pa.Array
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Concatenated event columns (without event_id) sorted by time, and the sorted instants."""
    customer = np.concatenate([b.customer for b in blocks]).astype(np.int64)
    at = np.concatenate([b.at for b in blocks]).astype(np.int64)
    order = np.argsort(at, kind="stable")
    index = pa.array(order, pa.int64())
    columns: dict[str, pa.Array] = {
        "customer_id": customer_ids.take(pa.array(customer[order])),
        "type": pa.concat_arrays(
            [pa.array([b.type] * len(b.customer), pa.string()) for b in blocks]
        ).take(index),
    }
    json_parts = [b.json for b in blocks if b.json is not None]
    columns["properties"] = pa.concat_arrays(json_parts).take(index)
    for name, value_type in catalog.event_property_types.items():
        arrow_type = ARROW_TYPES[value_type]
        parts = [
            b.properties[name].cast(arrow_type)
            if name in b.properties
            else pa.nulls(len(b.customer), arrow_type)
            for b in blocks
        ]
        columns[name] = pa.concat_arrays(parts).take(index)
    return columns, at[order]
