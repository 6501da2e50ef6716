"""The demo shop's static parts: its settings, the product feed and the customer profiles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from segmentum.catalog.schema import Catalog, build_catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.types import ValueType
from segmentum.demo.arrow import (
    Bools,
    Floats,
    Ints,
    choice,
    dates,
    ids,
    join,
    money,
    pick,
    source_schema,
)
from segmentum.demo.vocabulary import (
    BODY_TYPES,
    CATEGORIES,
    CLOTHING_SIZE_WEIGHTS,
    CLOTHING_SIZES,
    COUNTRIES,
    DRIVE_WEIGHTS,
    DRIVES,
    ENGLISH_SHARE,
    TAGS,
    ascii_name,
)

DAY = 86_400
DEMO_TIMEZONE = "Europe/Prague"
DEMO_CURRENCY = "CZK"
CUSTOMER_ATTRIBUTES: dict[str, ValueType] = {
    "has_children": ValueType.BOOL,
    "clothing_size": ValueType.TEXT,
    "preferred_drive": ValueType.TEXT,
}
PRODUCT_ATTRIBUTES: dict[str, ValueType] = {
    "gluten_free": ValueType.BOOL,
    "body_type": ValueType.TEXT,
}


def demo_settings(base: WorkspaceSettings | None = None) -> WorkspaceSettings:
    """``base`` with the demo's timezone, currency and custom attributes declared."""
    data = (base or WorkspaceSettings()).model_dump()
    data["timezone"] = DEMO_TIMEZONE
    data["currency"] = DEMO_CURRENCY
    data["customer_attributes"] = {**data["customer_attributes"], **CUSTOMER_ATTRIBUTES}
    data["product_attributes"] = {**data["product_attributes"], **PRODUCT_ATTRIBUTES}
    return WorkspaceSettings.model_validate(data)


def demo_catalog() -> Catalog:
    return build_catalog(demo_settings())


def products_stream(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1])))


@dataclass(frozen=True)
class Products:
    """The product feed and what the order generator needs to pick from it."""

    table: pa.Table
    #: product ids in feed order
    product_ids: pa.Array
    price_cents: Ints
    on_promo: Bools
    #: category index of each product; products of one category are contiguous
    category: Ints
    category_start: Ints
    category_size: Ints
    popularity: Floats


def make_products(seed: int, catalog: Catalog) -> Products:
    rng = products_stream(seed)
    names: list[str] = []
    brands: list[str] = []
    categories: list[int] = []
    prices: list[int] = []
    for number, category in enumerate(CATEGORIES):
        low, high = np.log(category.min_price), np.log(category.max_price)
        raw = np.exp(rng.uniform(low, high, category.products))
        price = np.clip(np.round(raw / 10) * 10 - 1, category.min_price, category.max_price)
        price[0], price[1] = category.min_price, category.max_price
        brand_index = rng.integers(0, len(category.brands), category.products)
        noun_index = rng.integers(0, len(category.nouns), category.products)
        for i in range(category.products):
            brand = category.brands[int(brand_index[i])]
            brands.append(brand)
            names.append(f"{brand} {category.nouns[int(noun_index[i])]} {i + 1}")
            categories.append(number)
            prices.append(int(price[i]) * 100)
    count = len(names)
    category_index = np.array(categories, dtype=np.int64)
    on_promo = rng.random(count) < 0.12
    food = category_index == [c.name for c in CATEGORIES].index("food")
    clothing = category_index == [c.name for c in CATEGORIES].index("clothing")
    gluten_free = pa.array(rng.random(count) < 0.4, pa.bool_(), mask=~food)
    body_type = pick(BODY_TYPES, rng.integers(0, len(BODY_TYPES), count), ~clothing)
    price_cents = np.array(prices, dtype=np.int64)
    product_ids = ids("P", np.arange(1, count + 1, dtype=np.int64), 4)
    columns = {
        "product_id": product_ids,
        "name": pa.array(names, pa.string()),
        "category": pick([c.name for c in CATEGORIES], category_index),
        "brand": pa.array(brands, pa.string()),
        "price": money(price_cents),
        "on_promo": pa.array(on_promo, pa.bool_()),
        "gluten_free": gluten_free,
        "body_type": body_type,
    }
    schema = source_schema(catalog.table("products"))
    table = pa.table([columns[name] for name in schema.names], schema=schema)
    sizes = np.array([c.products for c in CATEGORIES], dtype=np.int64)
    return Products(
        table=table,
        product_ids=product_ids,
        price_cents=price_cents,
        on_promo=on_promo,
        category=category_index,
        category_start=np.cumsum(sizes) - sizes,
        category_size=sizes,
        popularity=rng.lognormal(0.0, 1.0, count),
    )


@dataclass(frozen=True)
class Profiles:
    """Customer facts the activity generator needs, plus the profile columns."""

    count: int
    numbers: Ints
    customer_ids: pa.Array
    signup_s: Ints
    utc_offset_h: Ints
    has_email: Bools
    has_phone: Bools
    favourite_category: Ints
    columns: dict[str, pa.Array]


def _flat_names() -> tuple[
    list[str],
    dict[tuple[int, int], tuple[int, int]],
    list[str],
    dict[tuple[int, int], tuple[int, int]],
]:
    first: list[str] = []
    first_ranges: dict[tuple[int, int], tuple[int, int]] = {}
    last: list[str] = []
    last_ranges: dict[tuple[int, int], tuple[int, int]] = {}
    for c, country in enumerate(COUNTRIES):
        for g, pool in enumerate((country.female_first, country.male_first)):
            first_ranges[c, g] = (len(first), len(pool))
            first.extend(pool)
            forms = [pair[1 - g] for pair in country.last]
            last_ranges[c, g] = (len(last), len(forms))
            last.extend(forms)
    return first, first_ranges, last, last_ranges


_FIRST, _FIRST_RANGES, _LAST, _LAST_RANGES = _flat_names()


def make_profiles(
    rng: np.random.Generator, first_number: int, count: int, start_s: int, end_s: int, width: int
) -> Profiles:
    """Profiles of customers ``first_number .. first_number + count - 1``."""
    numbers = np.arange(first_number, first_number + count, dtype=np.int64)
    country = choice(rng, [c.weight for c in COUNTRIES], count)
    zone_names: list[str] = []
    zone_offsets: list[int] = []
    zone = np.zeros(count, dtype=np.int64)
    city_names: list[str] = []
    region_names: list[str] = []
    city = np.zeros(count, dtype=np.int64)
    prefix_values: list[str] = []
    prefix = np.zeros(count, dtype=np.int64)
    digits_width = np.zeros(count, dtype=np.int64)
    domain_values: list[str] = []
    domain = np.zeros(count, dtype=np.int64)
    gender = choice(rng, [0.55, 0.43, 0.02], count)  # female, male, unknown
    first_index = np.zeros(count, dtype=np.int64)
    last_index = np.zeros(count, dtype=np.int64)
    for c, spec in enumerate(COUNTRIES):
        here = country == c
        n = int(here.sum())
        zone[here] = len(zone_names) + choice(rng, [z[1] for z in spec.zones], n)
        zone_names.extend(z[0] for z in spec.zones)
        zone_offsets.extend(z[2] for z in spec.zones)
        city[here] = len(city_names) + choice(rng, [x[2] for x in spec.cities], n)
        city_names.extend(x[0] for x in spec.cities)
        region_names.extend(x[1] for x in spec.cities)
        prefix[here] = len(prefix_values) + rng.integers(0, len(spec.phone_prefixes), n)
        prefix_values.extend(spec.phone_code + p for p in spec.phone_prefixes)
        digits_width[here] = spec.phone_digits
        domain[here] = len(domain_values) + rng.integers(0, len(spec.mail_domains), n)
        domain_values.extend(spec.mail_domains)
        for g in (0, 1):
            chosen = here & ((gender == g) | ((gender == 2) & (g == 0)))
            m = int(chosen.sum())
            start, size = _FIRST_RANGES[c, g]
            first_index[chosen] = start + rng.integers(0, size, m)
            start, size = _LAST_RANGES[c, g]
            last_index[chosen] = start + rng.integers(0, size, m)
    customer_ids = ids("C", numbers, width)
    first_names = pick(_FIRST, first_index)
    last_names = pick(_LAST, last_index)
    has_email = rng.random(count) >= 0.05
    has_phone = rng.random(count) >= 0.12
    local_part = join(
        pick([ascii_name(n) for n in _FIRST], first_index),
        ".",
        pick([ascii_name(n) for n in _LAST], last_index),
        ".",
        pa.array(numbers, pa.int64()).cast(pa.string()),
        "@",
    )
    email = join(local_part, pick(domain_values, domain)).filter(pa.array(has_email))
    email_full = _scatter(email, has_email)
    # Phone numbers: a national mobile prefix and random digits, in E.164.
    national = np.zeros(count, dtype=np.int64)
    for width_value in np.unique(digits_width):
        here = digits_width == width_value
        national[here] = rng.integers(0, 10 ** int(width_value), int(here.sum()))
    phone_digits = pa.array(national, pa.int64()).cast(pa.string())
    padded = _lpad_each(phone_digits, digits_width)
    phone = _scatter(
        join(pick(prefix_values, prefix), padded).filter(pa.array(has_phone)), has_phone
    )
    # Sign-ups grow over time: later dates are more likely.
    signup_s = start_s + (rng.beta(1.6, 1.0, count) * (end_s - start_s - DAY)).astype(np.int64)
    end_day = end_s // DAY
    age_days = np.clip(rng.normal(38.0, 12.0, count), 18.0, 80.0) * 365.25
    birth_days = (end_day - age_days).astype(np.int64)
    no_birth = rng.random(count) < 0.08
    language = np.array([c.language for c in COUNTRIES], dtype=object)[country]
    language = np.where(rng.random(count) < ENGLISH_SHARE, "en", language)
    tag_mask = np.stack([rng.random(count) < share for _, share in TAGS], axis=1)
    tag_names = np.tile(np.arange(len(TAGS)), count)[tag_mask.ravel()]
    offsets = np.concatenate([[0], np.cumsum(tag_mask.sum(axis=1))]).astype(np.int32)
    tags = pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()), pick([t for t, _ in TAGS], tag_names.astype(np.int64))
    )
    columns = {
        "customer_id": customer_ids,
        "first_name": first_names,
        "last_name": last_names,
        "email": email_full,
        "phone": phone,
        "gender": pick(["female", "male"], np.minimum(gender, 1), gender == 2),
        "birth_date": dates(birth_days, no_birth),
        "city": pick(city_names, city),
        "region": pick(region_names, city),
        "country": pick([c.code for c in COUNTRIES], country),
        "timezone": pick(zone_names, zone),
        "language": pa.array(language.tolist(), pa.string()),
        "tags": tags,
        "has_children": pa.array(
            rng.random(count) < 0.38, pa.bool_(), mask=rng.random(count) < 0.3
        ),
        "clothing_size": pick(
            CLOTHING_SIZES,
            choice(rng, CLOTHING_SIZE_WEIGHTS, count),
            rng.random(count) < 0.25,
        ),
        "preferred_drive": pick(DRIVES, choice(rng, DRIVE_WEIGHTS, count), rng.random(count) < 0.4),
    }
    return Profiles(
        count=count,
        numbers=numbers,
        customer_ids=customer_ids,
        signup_s=signup_s,
        utc_offset_h=np.array(zone_offsets, dtype=np.int64)[zone],
        has_email=has_email,
        has_phone=has_phone,
        favourite_category=choice(rng, [c.affinity for c in CATEGORIES], count),
        columns=columns,
    )


def _scatter(values: pa.Array, present: Bools) -> pa.Array:
    """Spread ``values`` over the rows where ``present``; NULL elsewhere."""
    index = np.cumsum(present) - 1
    return values.take(pa.array(index, pa.int64(), mask=~present))


def _lpad_each(strings: pa.Array, widths: Ints) -> pa.Array:
    """Left-pad with zeros to a per-row width (few distinct widths)."""
    import pyarrow.compute as pc

    result = strings
    for width_value in np.unique(widths):
        padded = pc.utf8_lpad(strings, width=int(width_value), padding="0")
        result = pc.if_else(pa.array(widths == width_value), padded, result)
    return result


def end_datetime(end_s: int) -> datetime:
    return datetime.fromtimestamp(end_s, tz=UTC)
