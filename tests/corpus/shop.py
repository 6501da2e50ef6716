"""A small hand-built shop: every edge case the segment semantics page talks about.

Workspace timezone Europe/Prague (CET +1 in winter, CEST +2 from 2024-03-31 01:00 UTC).
Instants are naive UTC datetimes; local dates are derived by whoever reads the rows (the
reference evaluator with zoneinfo, the engine loader before inserting), never stored here.

The main evaluation instant is ``AS_OF`` = the end of 2024-05-15 in Prague, so D = 2024-05-15
and "N days ago" below means the local date D − N. Orders placed at 10:00 UTC have the same
local date as their UTC date (11:00 CET / 12:00 CEST).

Customers (universe at AS_OF = everyone but c15):

=====  ============================================================================
c01    Jana Nováková, vip/newsletter tags, orders 5/20/45 days ago (45 = 2024-03-31),
       stores Praha/Brno/NULL, items with gluten-free p1 and p4, a small return, pages
c02    Иван Петров, empty tag list, one order exactly 30 days ago, born 31 Dec
c03    Petr Svoboda, one order exactly 31 days ago, *before* his signup (2024-04-20)
c04    no signup_at, one order exactly 60 days ago
c05    one order 61 days ago; c06 120; c07 121; c08 180; c09 181 (lifecycle borders)
c10    Ольга Смирнова, orders 200 and 10 days ago: returned; birthday on D
c11    orders 150, 30, 2 days ago: gap 120 = not returned (active)
c12    orders 151, 30, 5 days ago: gap 121 = returned
c13    NULL everything (no country, birth date, signup, tags); a cart 2 h before AS_OF
c14    only a cancelled order (zero) but a return of it
c15    signs up on 2024-06-01, after AS_OF: in no segment at AS_OF
c16    order and signup at 2024-03-30 23:30 UTC = 2024-03-31 00:30 local
c17    order and signup at 2024-03-30 22:30 UTC = 2024-03-30 23:30 local
c18    born 2000-02-29 (leap day), no orders
c19    cart, then an order 10 h later; c20 cart, then an order 30 h later
c21    inquiry about p1, bought p1 a day later; c22 inquiry about p2, bought p3
c23    survey sent and answered; c24 survey sent, answer only after AS_OF
c25    spring SMS sent/delivered/clicked, an order 3 days after delivery (converted),
       and a checkout started at the very instant of that order
c26    spring SMS delivered, an order 7 days 23 h 59 min later; newsletter e-mail delivered
c27    sms opted_in, email opted_out, web_push opted_in after AS_OF (consent is current)
c28    sms pending, email opted_in, clicked spring by e-mail
c29    Žofie Dvořáková, vip/eco, 5 T-shirts 7 days ago, in the manual list
c30    order 40 days ago (p3, p1) and 110 days ago (p4), clothing return 25 days ago
c31    c32: identical single orders 14 days ago (RFM ties)
c33    Ёжик Ёлкин, born 1 March 1999, no orders
c34    born 2006-05-15 (18 on D), no signup_at; c35 born 2006-05-16, signed up on D at
       23:00 local after an order the evening before
c36    order 2024-05-14 22:00 UTC (= 2024-05-15 00:00 local, within 24 h), tickets
c37    orders 2024-02-29, 2024-03-31 22:30 UTC (= 1 April local!), 2024-04-20
c38    orders 2024-02-01, 2024-03-15, 2024-04-30 21:00 UTC (23:00 local), one cancelled
=====  ============================================================================

Rows added for the ready-made library (tests/corpus/library_cases.py), none of them an order
(a new order or customer would move the pinned RFM scores, lifecycle and universe):
sport shoes p5 (on promo, 500.00) bought by c22, p6 (on promo, 1000.01) by c30, p7 (promo
unknown, 699.00) by c29; 8 more gluten-free loaves in c01's order of 20 days ago; c23 answers
a second survey with csat 2 and a third without csat; c27 answers csat 2, then csat 4.
The stored CLV predictions (``CLV_PREDICTIONS``, table ``clv_predictions``) are for the
library's predictive segments; no other case reads them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from segmentum.catalog.schema import Catalog, build_catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.types import ValueType
from segmentum.compiler.predictive import PREDICTIONS_TABLE

TIMEZONE = "Europe/Prague"
PRAGUE = ZoneInfo(TIMEZONE)

SETTINGS = WorkspaceSettings(
    timezone=TIMEZONE,
    currency="CZK",
    customer_attributes={"has_children": ValueType.BOOL, "clothing_size": ValueType.TEXT},
    product_attributes={"gluten_free": ValueType.BOOL},
)
CATALOG: Catalog = build_catalog(SETTINGS)


def end_of_local_day(day: date) -> datetime:
    """The last instant of ``day`` in Prague, as an aware UTC datetime (--as-of DATE)."""
    local = datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=PRAGUE)
    return local.astimezone(UTC)


D = date(2024, 5, 15)
#: 2024-05-15 21:59:59.999999 UTC.
AS_OF = end_of_local_day(D)
#: 2024-03-31 01:30 UTC = 03:30 CEST, half an hour after the spring DST change; D = 2024-03-31.
AS_OF_DST = datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
#: End of 2025-02-28 (not a leap year): the leap-day birthday is celebrated today.
AS_OF_LEAP = end_of_local_day(date(2025, 2, 28))
#: End of 2024-12-30: birthdays wrap into the next year.
AS_OF_YEAR_END = end_of_local_day(date(2024, 12, 30))

AS_OFS: dict[str, datetime] = {
    "main": AS_OF,
    "dst": AS_OF_DST,
    "leap": AS_OF_LEAP,
    "year_end": AS_OF_YEAR_END,
}


def at(y: int, m: int, d: int, hour: int = 10, minute: int = 0) -> datetime:
    """A naive UTC instant."""
    return datetime(y, m, d, hour, minute)


def days_ago(n: int, hour: int = 10) -> datetime:
    """10:00 UTC on the local date D − n (same local date in CET and CEST)."""
    day = D - timedelta(days=n)
    return datetime(day.year, day.month, day.day, hour)


M = Decimal
DEFAULT_SIGNUP = at(2023, 6, 1)


def _customer(customer_id: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(CATALOG.table("customers").column_names)
    row.pop("signup_date")  # derived by whoever loads the rows
    row.update(customer_id=customer_id, signup_at=DEFAULT_SIGNUP)
    row.update(fields)
    return row


CUSTOMERS: list[dict[str, Any]] = [
    _customer(
        "c01",
        first_name="Jana",
        last_name="Nováková",
        email="jana@example.cz",
        phone="+420601000001",
        gender="f",
        birth_date=date(1990, 5, 20),
        city="Praha",
        country="CZ",
        language="cs",
        loyalty_member=True,
        loyalty_tier="gold",
        lead_stage="customer",
        tags=["vip", "newsletter"],
        signup_at=at(2023, 1, 10),
        has_children=True,
        clothing_size="M",
    ),
    _customer(
        "c02",
        first_name="Иван",
        last_name="Петров",
        gender="m",
        birth_date=date(1985, 12, 31),
        country="UA",
        language="ru",
        loyalty_member=False,
        tags=[],
        has_children=False,
        clothing_size="L",
    ),
    _customer(
        "c03",
        first_name="Petr",
        last_name="Svoboda",
        birth_date=date(1975, 1, 1),
        country="CZ",
        signup_at=at(2024, 4, 20),
        has_children=False,
    ),
    _customer("c04", first_name="Lucie", last_name="Černá", country="SK", signup_at=None),
    _customer(
        "c05", first_name="Tomáš", last_name="Dvořák", country="CZ", birth_date=date(1988, 8, 8)
    ),
    _customer(
        "c06",
        first_name="Eva",
        last_name="Procházková",
        country="CZ",
        birth_date=date(1970, 7, 7),
        loyalty_member=True,
    ),
    _customer("c07", first_name="Jiří", last_name="Kučera", country="DE"),
    _customer(
        "c08", first_name="Marie", last_name="Veselá", country="CZ", birth_date=date(1960, 10, 10)
    ),
    _customer("c09", first_name="Pavel", last_name="Horák", country="CZ"),
    _customer(
        "c10",
        first_name="Ольга",
        last_name="Смирнова",
        birth_date=date(1992, 5, 15),
        country="RU",
        language="ru",
        tags=["newsletter"],
        has_children=True,
        clothing_size="S",
    ),
    _customer("c11", first_name="Karel", last_name="Němec", country="CZ"),
    _customer("c12", first_name="Alena", last_name="Marková", country="SK"),
    _customer("c13", first_name="Bez", signup_at=None),
    _customer("c14", first_name="Zdeněk", last_name="Pokorný", country="CZ"),
    _customer(
        "c15",
        first_name="Budoucí",
        last_name="Fialová",
        birth_date=date(1995, 6, 15),
        country="CZ",
        tags=["vip"],
        signup_at=at(2024, 6, 1),
    ),
    _customer("c16", first_name="Dušan", country="CZ", signup_at=at(2024, 3, 30, 23, 30)),
    _customer("c17", first_name="Hana", country="CZ", signup_at=at(2024, 3, 30, 22, 30)),
    _customer(
        "c18",
        first_name="Přestupná",
        last_name="Skočdopolová",
        birth_date=date(2000, 2, 29),
        country="CZ",
        signup_at=at(2024, 2, 29),
    ),
    _customer("c19", first_name="Adam", country="CZ"),
    _customer("c20", first_name="Bára", country="CZ"),
    _customer("c21", first_name="Cyril", country="SK"),
    _customer("c22", first_name="Dana", country="SK"),
    _customer("c23", first_name="Emil", country="CZ"),
    _customer("c24", first_name="Filip", country="CZ"),
    _customer("c25", first_name="Gita", country="CZ"),
    _customer("c26", first_name="Hugo", country="CZ"),
    _customer("c27", first_name="Ivana", country="CZ"),
    _customer("c28", first_name="Josef", country="CZ"),
    _customer(
        "c29",
        first_name="Žofie",
        last_name="Dvořáková",
        country="CZ",
        tags=["vip", "eco"],
        clothing_size="XL",
    ),
    _customer("c30", first_name="Kamil", country="CZ", tags=["VIP"]),
    _customer("c31", first_name="Libor", country="CZ", clothing_size="M"),
    _customer("c32", first_name="Milan", country="CZ"),
    _customer(
        "c33", first_name="Ёжик", last_name="Ёлкин", birth_date=date(1999, 3, 1), country="RU"
    ),
    _customer("c34", first_name="Nela", birth_date=date(2006, 5, 15), signup_at=None),
    _customer(
        "c35", first_name="Oto", birth_date=date(2006, 5, 16), signup_at=at(2024, 5, 15, 21, 0)
    ),
    _customer("c36", first_name="Pavla", country="AT"),
    _customer("c37", first_name="Radek", country="CZ"),
    _customer("c38", first_name="Soňa", country="CZ"),
]

PRODUCTS: list[dict[str, Any]] = [
    {
        "product_id": "p1",
        "name": "Bezlepkový chléb",
        "category": "bakery",
        "brand": "Pekárna",
        "price": M("59.90"),
        "on_promo": False,
        "gluten_free": True,
    },
    {
        "product_id": "p2",
        "name": "Rohlík",
        "category": "bakery",
        "brand": "Pekárna",
        "price": M("3.90"),
        "on_promo": False,
        "gluten_free": False,
    },
    {
        "product_id": "p3",
        "name": "Tričko",
        "category": "clothing",
        "brand": "Móda",
        "price": M("399.00"),
        "on_promo": True,
        "gluten_free": None,
    },
    {
        "product_id": "p4",
        "name": "Mléko",
        "category": "dairy",
        "brand": None,
        "price": M("24.90"),
        "on_promo": None,
        "gluten_free": True,
    },
    # --- for the library's sport_shoes_on_promo (sport shoes on promo priced 500-1000) ---
    {
        "product_id": "p5",
        "name": "Běžecké boty",
        "category": "sport shoes",
        "brand": "Sport",
        "price": M("500.00"),  # the inclusive lower bound
        "on_promo": True,
        "gluten_free": False,
    },
    {
        "product_id": "p6",
        "name": "Trailové boty",
        "category": "sport shoes",
        "brand": "Sport",
        "price": M("1000.01"),  # just above the upper bound
        "on_promo": True,
        "gluten_free": False,
    },
    {
        "product_id": "p7",
        "name": "Tenisky",
        "category": "sport shoes",
        "brand": None,
        "price": M("699.00"),
        "on_promo": None,  # unknown promo: not "on promo"
        "gluten_free": False,
    },
]


def _order(
    order_id: str,
    customer_id: str,
    ordered_at: datetime,
    amount: str,
    status: str | None = "paid",
    store: str | None = None,
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "ordered_at": ordered_at,
        "amount": M(amount),
        "currency": "CZK",
        "status": status,
        "store": store,
    }


ORDERS: list[dict[str, Any]] = [
    _order("o0101", "c01", days_ago(5), "1200.00", store="Praha"),
    _order("o0102", "c01", days_ago(20), "800.00", status="shipped", store="Brno"),
    _order("o0103", "c01", days_ago(45), "500.00", status=None),  # 2024-03-31 10:00 UTC
    _order("o0201", "c02", days_ago(30), "100.00"),
    _order("o0301", "c03", days_ago(31), "100.00"),
    _order("o0401", "c04", days_ago(60), "250.00"),
    _order("o0501", "c05", days_ago(61), "250.00"),
    _order("o0601", "c06", days_ago(120), "75.50"),
    _order("o0701", "c07", days_ago(121), "75.50"),
    _order("o0801", "c08", days_ago(180), "300.00"),
    _order("o0901", "c09", days_ago(181), "300.00"),
    _order("o1001", "c10", days_ago(200), "150.00"),
    _order("o1002", "c10", days_ago(10), "150.00"),
    _order("o1101", "c11", days_ago(150), "60.00"),
    _order("o1102", "c11", days_ago(30), "60.00"),
    _order("o1103", "c11", days_ago(2), "60.00"),
    _order("o1201", "c12", days_ago(151), "40.00"),
    _order("o1202", "c12", days_ago(30), "40.00"),
    _order("o1203", "c12", days_ago(5), "40.00"),
    _order("o1401", "c14", days_ago(3), "999.00", status="cancelled"),
    _order("o1501", "c15", at(2024, 6, 2), "500.00"),
    _order("o1601", "c16", at(2024, 3, 30, 23, 30), "90.00"),
    _order("o1701", "c17", at(2024, 3, 30, 22, 30), "90.00"),
    _order("o1901", "c19", at(2024, 5, 12, 20, 0), "80.00"),
    _order("o2001", "c20", at(2024, 5, 11, 16, 0), "80.00"),
    _order("o2101", "c21", at(2024, 5, 2), "59.90"),
    _order("o2201", "c22", at(2024, 5, 2), "399.00"),
    _order("o2501", "c25", at(2024, 5, 4), "120.00"),
    _order("o2601", "c26", at(2024, 5, 9, 9, 0), "120.00"),
    _order("o2901", "c29", days_ago(7), "2000.00"),
    _order("o3001", "c30", days_ago(40), "500.00"),
    _order("o3002", "c30", days_ago(110), "100.00"),
    _order("o3101", "c31", days_ago(14), "300.00"),
    _order("o3201", "c32", days_ago(14), "300.00"),
    _order("o3501", "c35", at(2024, 5, 14, 21, 30), "65.00"),
    _order("o3601", "c36", at(2024, 5, 14, 22, 0), "500.00"),
    _order("o3701", "c37", at(2024, 2, 29), "70.00"),
    _order("o3702", "c37", at(2024, 3, 31, 22, 30), "70.00"),
    _order("o3703", "c37", at(2024, 4, 20), "70.00"),
    _order("o3801", "c38", at(2024, 2, 1), "150.00", store="Praha"),
    _order("o3802", "c38", at(2024, 3, 15), "50.00", store="Praha"),
    _order("o3803", "c38", at(2024, 4, 30, 21, 0), "200.00", store="Praha"),
    _order("o3804", "c38", at(2024, 5, 2), "10.00", status="cancelled", store="Olomouc"),
]


def _item(order_id: str, product_id: str, quantity: int, unit_price: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "product_id": product_id,
        "quantity": quantity,
        "unit_price": M(unit_price),
    }


ORDER_ITEMS: list[dict[str, Any]] = [
    _item("o0101", "p1", 2, "59.90"),
    _item("o0101", "p3", 1, "399.00"),
    _item("o0102", "p2", 10, "3.90"),
    _item("o0103", "p4", 1, "24.90"),
    _item("o1401", "p1", 1, "59.90"),  # cancelled order
    _item("o1501", "p1", 1, "59.90"),  # after AS_OF, customer outside the universe
    _item("o2101", "p1", 1, "59.90"),
    _item("o2201", "p3", 1, "399.00"),
    _item("o2901", "p3", 5, "399.00"),
    _item("o3001", "p3", 1, "399.00"),
    _item("o3001", "p1", 1, "59.90"),
    _item("o3002", "p4", 2, "24.90"),
    # --- for the library: gluten-free purchases and sport shoes (no order amount changes) ---
    _item("o0102", "p1", 8, "59.90"),  # c01, 20 days ago: 479.20 of gluten-free bread
    _item("o2201", "p5", 1, "500.00"),  # c22: sport shoes on promo, priced 500.00
    _item("o3001", "p6", 1, "1000.01"),  # c30: sport shoes on promo, priced 1000.01
    _item("o2901", "p7", 1, "699.00"),  # c29: sport shoes, promo unknown
]

RETURNS: list[dict[str, Any]] = [
    {
        "return_id": "r0101",
        "order_id": "o0102",
        "customer_id": "c01",
        "product_id": "p2",
        "quantity": 1,
        "amount": M("3.90"),
        "returned_at": days_ago(15),
        "reason": "damaged",
    },
    {
        "return_id": "r1401",
        "order_id": "o1401",
        "customer_id": "c14",
        "product_id": "p1",
        "quantity": 1,
        "amount": M("59.90"),
        "returned_at": days_ago(2),
        "reason": None,
    },
    {
        "return_id": "r3001",
        "order_id": "o3001",
        "customer_id": "c30",
        "product_id": "p3",
        "quantity": 1,
        "amount": M("399.00"),
        "returned_at": days_ago(25),
        "reason": "size",
    },
]


def _event(
    event_id: str, customer_id: str, event_type: str, occurred_at: datetime, **properties: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "customer_id": customer_id,
        "type": event_type,
        "occurred_at": occurred_at,
        **properties,
    }


def _message(
    event_id: str, customer_id: str, event_type: str, when: datetime, campaign: str, channel: str
) -> dict[str, Any]:
    return _event(event_id, customer_id, event_type, when, campaign_id=campaign, channel=channel)


EVENTS: list[dict[str, Any]] = [
    _event(
        "e01",
        "c19",
        "cart_updated",
        at(2024, 5, 12),
        cart_id="k19",
        value=M("80.00"),
        product_id="p2",
    ),
    _event(
        "e02",
        "c20",
        "cart_updated",
        at(2024, 5, 10),
        cart_id="k20",
        value=M("150.00"),
        product_id="p3",
    ),
    # one-click checkout: started at the very instant of c25's order (same-instant sequence)
    _event("e24", "c25", "checkout_started", at(2024, 5, 4), cart_id="k25", value=M("120.00")),
    _event("e03", "c21", "product_inquiry", at(2024, 5, 1), product_id="p1", channel="chat"),
    _event("e04", "c22", "product_inquiry", at(2024, 5, 1), product_id="p2", channel="email"),
    _event("e05", "c23", "survey_sent", at(2024, 5, 1), survey_id="s1"),
    _event("e06", "c23", "survey_response", at(2024, 5, 3), survey_id="s1", csat=5, nps=9),
    _event("e07", "c24", "survey_sent", at(2024, 5, 1), survey_id="s1"),
    _event("e21", "c24", "survey_response", at(2024, 5, 16), survey_id="s1", csat=1, nps=0),
    _message("e08", "c25", "message_sent", at(2024, 5, 1, 9, 0), "spring", "sms"),
    _message("e09", "c25", "message_delivered", at(2024, 5, 1, 9, 1), "spring", "sms"),
    _message("e10", "c25", "message_clicked", at(2024, 5, 1, 12, 0), "spring", "sms"),
    _message("e11", "c26", "message_sent", at(2024, 5, 1, 9, 0), "spring", "sms"),
    _message("e12", "c26", "message_delivered", at(2024, 5, 1, 9, 1), "spring", "sms"),
    _message("e13", "c26", "message_delivered", at(2024, 4, 10, 8, 0), "newsletter", "email"),
    _message("e19", "c15", "message_sent", at(2024, 5, 1, 9, 0), "spring", "sms"),
    _message("e22", "c28", "message_clicked", at(2024, 4, 20), "spring", "email"),
    _message("e23", "c27", "message_sent", at(2024, 6, 1), "spring", "sms"),
    _event(
        "e14",
        "c36",
        "support_ticket",
        at(2024, 5, 13),
        ticket_id="t1",
        topic="delivery",
        channel="email",
    ),
    _event(
        "e15",
        "c36",
        "support_ticket",
        at(2024, 4, 5),
        ticket_id="t2",
        topic="refund",
        channel="phone",
    ),
    _event("e16", "c01", "page_view", at(2024, 5, 14), url="/p/p1", product_id="p1"),
    _event("e17", "c01", "page_view", at(2024, 5, 14, 10, 5), url="/p/p3", product_id="p3"),
    _event("e18", "c29", "page_view", at(2024, 5, 15, 21, 0), url="/p/p3", product_id="p3"),
    _event(
        "e20",
        "c13",
        "cart_updated",
        at(2024, 5, 15, 20, 0),
        cart_id="k13",
        value=M("30.00"),
        product_id="p1",
    ),
    # --- for the library's low_satisfaction (the latest csat answer is 1 or 2) ---
    # c23: csat 5 (e06), then csat 2, then an answer without csat: the latest csat is 2
    _event("e25", "c23", "survey_response", at(2024, 5, 10), survey_id="s2", csat=2, nps=3),
    _event("e26", "c23", "survey_response", at(2024, 5, 12), survey_id="s3", nps=6),
    # c27: csat 2, then csat 4 a day later: the latest csat is 4
    _event("e27", "c27", "survey_response", at(2024, 5, 5), survey_id="s2", csat=2, nps=2),
    _event("e28", "c27", "survey_response", at(2024, 5, 6), survey_id="s2", csat=4, nps=7),
]

SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"customer_id": "c01", "channel": "sms", "status": "opted_in", "changed_at": at(2023, 5, 1)},
    {"customer_id": "c01", "channel": "email", "status": "opted_in", "changed_at": at(2023, 5, 1)},
    {"customer_id": "c13", "channel": "sms", "status": "opted_out", "changed_at": at(2024, 1, 1)},
    {"customer_id": "c15", "channel": "sms", "status": "opted_in", "changed_at": at(2024, 6, 1)},
    {"customer_id": "c27", "channel": "sms", "status": "opted_in", "changed_at": at(2024, 1, 1)},
    {"customer_id": "c27", "channel": "email", "status": "opted_out", "changed_at": at(2024, 2, 1)},
    # after AS_OF, but consent is a current state: c27 is sendable by web push at any as_of
    {
        "customer_id": "c27",
        "channel": "web_push",
        "status": "opted_in",
        "changed_at": at(2024, 6, 10),
    },
    {"customer_id": "c28", "channel": "sms", "status": "pending", "changed_at": at(2024, 3, 1)},
    {"customer_id": "c28", "channel": "email", "status": "opted_in", "changed_at": at(2024, 3, 1)},
]

MANUAL_LIST_MEMBERS: list[dict[str, Any]] = [
    {"list_name": "vip_list", "customer_id": "c01"},
    {"list_name": "vip_list", "customer_id": "c15"},
    {"list_name": "vip_list", "customer_id": "c29"},
    {"list_name": "vip_list", "customer_id": "c99"},
    {"list_name": "other_list", "customer_id": "c02"},
]

#: The stored predictions of the last ``segmentum clv refresh`` (the data engine table
#: ``clv_predictions``, docs/predictive.md), for the library's predictive segments. The values
#: are chosen by hand, not fitted; only the stored numbers matter to a segment. The refresh ran
#: at the end of 2024-05-13 (local), weekly periods, so it has a row for every customer with
#: an order up to then (26 of them; p_alive 1.0 without a repeat purchase period, the model's
#: definition) and none for c35 and c36, whose first orders are later (NULL: no comparison
#: holds, no percentile ranks them), nor for anyone without an order. c99 is a customer deleted
#: since the refresh: its row must select nobody and be ranked by no percentile. clv is about
#: 0.95 x expected_purchases x expected_aov (a year at 10 %); c22 and c31 tie on clv.
PREDICTIONS_AS_OF = end_of_local_day(date(2024, 5, 13)).replace(tzinfo=None)
PREDICTIONS: list[tuple[str, float, float, float, float]] = [
    # customer_id, p_alive, expected_purchases, expected_aov, clv
    ("c01", 0.93, 3.5, 1250.0, 4156.25),
    ("c02", 1.0, 1.0, 150.0, 142.5),
    ("c03", 1.0, 1.0, 120.0, 114.0),
    ("c04", 1.0, 1.0, 300.0, 285.0),
    ("c05", 1.0, 0.9, 300.0, 256.5),
    ("c06", 1.0, 0.5, 120.0, 57.0),
    ("c07", 1.0, 0.5, 110.0, 52.25),
    ("c08", 1.0, 0.5, 400.0, 190.0),
    ("c09", 1.0, 0.5, 380.0, 180.5),
    ("c10", 0.62, 1.8, 1200.0, 2052.0),
    ("c11", 0.19, 0.6, 600.0, 342.0),  # just under 0.2
    ("c12", 0.2, 0.7, 500.0, 332.5),  # exactly 0.2: not under it
    ("c16", 1.0, 1.0, 110.0, 104.5),
    ("c17", 1.0, 1.0, 105.0, 99.75),
    ("c19", 1.0, 1.0, 98.0, 93.1),
    ("c20", 1.0, 1.0, 100.0, 95.0),
    ("c21", 1.0, 1.0, 80.0, 76.0),
    ("c22", 1.0, 1.0, 1000.0, 950.0),  # ties c31 on clv
    ("c25", 1.0, 1.0, 130.0, 123.5),
    ("c26", 1.0, 1.0, 140.0, 133.0),
    ("c29", 1.0, 1.2, 2000.0, 2280.0),
    ("c30", 0.35, 1.5, 800.0, 1140.0),
    ("c31", 1.0, 1.0, 1000.0, 950.0),
    ("c32", 1.0, 1.0, 900.0, 855.0),
    ("c37", 0.12, 0.4, 600.0, 228.0),
    ("c38", 0.5, 2.4, 650.0, 1482.0),  # exactly 0.5: not under it
    ("c99", 0.05, 5.0, 3000.0, 14250.0),  # deleted since the refresh: not a customer
]
CLV_PREDICTIONS: list[dict[str, Any]] = [
    {
        "customer_id": customer_id,
        "p_alive": p_alive,
        "expected_purchases": expected_purchases,
        "expected_aov": expected_aov,
        "clv": clv,
        "as_of": PREDICTIONS_AS_OF,
        "period": "W",
        "horizon_days": 365,
        "discount_rate": 0.1,
        "model_id": "m-corpus",
    }
    for customer_id, p_alive, expected_purchases, expected_aov, clv in PREDICTIONS
]

DATA: dict[str, list[dict[str, Any]]] = {
    "customers": CUSTOMERS,
    "products": PRODUCTS,
    "orders": ORDERS,
    "order_items": ORDER_ITEMS,
    "returns": RETURNS,
    "events": EVENTS,
    "subscriptions": SUBSCRIPTIONS,
    "manual_list_members": MANUAL_LIST_MEMBERS,
    PREDICTIONS_TABLE: CLV_PREDICTIONS,
}

ALL_IDS = frozenset(row["customer_id"] for row in CUSTOMERS)
#: The universe at AS_OF (c15 signs up later).
UNIVERSE = ALL_IDS - {"c15"}
#: Universe customers without a (non-cancelled) order up to AS_OF.
NO_ORDERS = frozenset({"c13", "c14", "c18", "c23", "c24", "c27", "c28", "c33", "c34"})
BUYERS = UNIVERSE - NO_ORDERS
