"""The ready-made segment library on the hand-built shop: one case per library entry.

Each definition is read from ``src/segmentum/spec/library/segments.yaml`` (through
``library_definitions`` and ``from_external``), never rewritten here, so the case tests what
``segmentum segments install-library`` installs. Expected ids are worked out by hand from the
rows of ``shop.py`` and docs/segment-semantics.md (never by running an evaluator), at the
shop's main as_of: D = 2024-05-15 (end of day, Prague). RFM scores and lifecycle stages at
D are the ones worked out in tests/reference/test_lifecycle_rfm.py.

Some library segments have no member in the shop at D, and the shop cannot give them one:
a new customer or a new order would move the universe, the lifecycle stages and the RFM
scores that 180 existing cases pin down, and existing rows must not change. They are:

- ``new_leads``, ``qualified_leads``, ``vip_tier``: only c01 has a lead stage (``customer``)
  and only c01 a loyalty tier (``gold``);
- ``rfm_champions``, ``rfm_promising``, ``rfm_cant_lose_them``, ``rfm_need_attention``: no
  scored customer has such scores at D;
- ``big_spenders_at_risk``: the top 20% by total spend are all active or returned at D.

Their cases still check that nobody is selected by mistake, and ``DST_CASES`` gives
``rfm_promising``, ``rfm_cant_lose_them`` and ``big_spenders_at_risk`` members at the shop's
DST as_of (D = 2024-03-31), where the shop's past makes other scores.

The predictive entries (``clv_*``) read the stored predictions ``shop.CLV_PREDICTIONS``
(values chosen by hand, from a refresh at the end of 2024-05-13), not a fit: they run at the
main as_of only, the values being those of the last refresh whatever the as_of.
"""

from __future__ import annotations

from typing import Any

from segmentum.service.library import library_definitions
from segmentum.spec.external import from_external
from tests.corpus.cases import ACTIVE, SegmentCase, ids
from tests.corpus.shop import AS_OF, AS_OF_DST, NO_ORDERS

PREFIX = "library_"

#: The library entries, in file order.
LIBRARY: list[dict[str, Any]] = library_definitions()
LIBRARY_BY_NAME: dict[str, dict[str, Any]] = {entry["name"]: entry for entry in LIBRARY}


def case_name(library_name: str) -> str:
    return f"{PREFIX}{library_name}"


#: Hand-worked members at D = 2024-05-15, by library name (one line of reasoning each).
EXPECTED: dict[str, frozenset[str]] = {
    # signup dates: c35 on D (0 days); next is c03 on 2024-04-20 (25); NULL signups are out
    "new_subscribers": ids("c35"),
    # last order on or after 05-12 (local): c11 05-13, c19 05-12 22:00 local, c35 05-14 23:30
    # local, c36 05-15 00:00 local; c20's 05-11 is 4 days ago, c14's order is cancelled
    "recent_buyers": ids("c11", "c19", "c35", "c36"),
    # c22 asked about p2 on 05-01 and bought only p3/p5; c21 asked about p1 and bought p1 later
    "product_interest": ids("c22"),
    # carts with 05-08 <= local date and instant <= as_of - 24 h: c19's (ordered 10 h later,
    # followed) and c20's (ordered 30 h later: not within 24 h); c13's cart is 2 h old
    "abandoned_cart": ids("c20"),
    # nobody has lead_stage new_lead (c01 is the only customer with a lead stage)
    "new_leads": ids(),
    # nobody has lead_stage qualified_lead
    "qualified_leads": ids(),
    # c01 has lead_stage customer
    "lead_customers": ids("c01"),
    # loyalty_member true: c01 and c06 (c02 false, the rest NULL)
    "loyalty_members": ids("c01", "c06"),
    # c01's tier is gold; nobody is vip
    "vip_tier": ids(),
    # c23: csat 5 (05-03), csat 2 (05-10), then an answer without csat (05-12, not "csat set"):
    # latest csat is 2; c27: csat 2 then csat 4; c24's csat 1 is dated 05-16, after as_of
    "low_satisfaction": ids("c23"),
    # survey s1 sent 05-01 (14 days ago) to c23 (answered 05-03) and c24 (answer after as_of)
    "survey_non_responders": ids("c24"),
    # an order or event in each of Feb, Mar, Apr 2024 (local): only c38 (02-01, 03-15, 04-30
    # 23:00 local); c37's 03-31 22:30 UTC order is 1 April locally, c01 has nothing in Feb
    "engaged_monthly": ids("c38"),
    # current opt-in for both sms and email: c01 (c27 email opted out, c28 sms pending)
    "multichannel_subscribers": ids("c01"),
    # no non-cancelled order up to as_of (c14's only order is cancelled)
    "lifecycle_zero": NO_ORDERS,
    # last order 0-60 days ago and not returned (c04 exactly 60; c11's gap is exactly 120)
    "lifecycle_active": ACTIVE,
    # gap p - q > 120 days: c10 (200 -> 10 days ago: 190), c12 (151 -> 30 days ago: 121)
    "lifecycle_returned": ids("c10", "c12"),
    # last order 61-120 days ago: c05 (61), c06 (120)
    "lifecycle_pre_churn": ids("c05", "c06"),
    # last order 121-180 days ago: c07 (121), c08 (180)
    "lifecycle_churn": ids("c07", "c08"),
    # last order 181+ days ago: c09 (181)
    "lifecycle_gone": ids("c09"),
    # R5 F5 M5: R5 c11 c12 c19 c20 c35 c36 and F5 c01 c11 c12 c30 c37 c38 meet at c11 (M3)
    # and c12 (M2) only
    "rfm_champions": ids(),
    # R3-5 F3-5 M2-5 (first row that matches after Champions)
    "rfm_potential_loyalist": ids(
        "c01", "c10", "c11", "c12", "c22", "c25", "c26", "c29", "c31", "c32", "c36", "c37", "c38"
    ),
    # R2-4 F2-4 M2-4 and not above: c16, c17 are (2, 2, 2)
    "rfm_loyal_customers": ids("c16", "c17"),
    # R3-4 F1-3 M3-5 and not above needs F1-2 at R3-4 (F3+ with M2+ is a Potential Loyalist):
    # every R3-4 customer (c01 c10 c21 c22 c25 c26 c29 c31 c32 c37 c38) has F3+, c21 has M1
    "rfm_promising": ids(),
    # R4-5 F1-3 and not above: c19 (5,2,1), c20 (5,3,1)
    "rfm_new_customers": ids("c19", "c20"),
    # R1-2 F3-4 M4-5 and not above: the R1-2 customers have F1-2 except c30 (2,5,5)
    "rfm_cant_lose_them": ids(),
    # R1-2 F2-5 M4-5: c08 and c09 (1,2,4), c30 (2,5,5)
    "rfm_at_risk": ids("c08", "c09", "c30"),
    # R1-3 F3-5 M3-5 and not above: the R1-2 have F1-2 or are At Risk; R3 ones are Potential
    # Loyalists, c21 (3,3,1) has M1
    "rfm_need_attention": ids(),
    # R2-3 F1-3 M1-4 and not above: c02, c03 (2,1,2), c21 (3,3,1)
    "rfm_about_to_sleep": ids("c02", "c03", "c21"),
    # R1 and not above: c04, c05 (1,1,3), c06, c07 (1,1,1)
    "rfm_lost": ids("c04", "c05", "c06", "c07"),
    # top 20% of 37 (monetary 0.00 without orders counts): 8 = c01 c29 c30 c36 c38 c22 c32
    # c31, all active or returned; pre-churn/churn c05-c08 spent at most 300 (c08 is 9th)
    "big_spenders_at_risk": ids(),
    # birthdays 05-15..05-21: c10 and c34 today, c35 tomorrow, c01 on 05-20 (c15 not a customer)
    "birthdays_this_week": ids("c01", "c10", "c34", "c35"),
    # p5 (on promo, 500.00, the inclusive bound) bought by c22; c30's p6 costs 1000.01, c29's
    # p7 has no promo flag (NULL is not true)
    "sport_shoes_on_promo": ids("c22"),
    # gluten-free value in 90 days: c01 2x59.90 + 8x59.90 + 24.90 = 623.90; c30 59.90 (its p4
    # is 110 days ago), c21 59.90; c14's order is cancelled
    "gluten_free_buyers": ids("c01"),
    # top 8 by spend (above) with stored p_alive < 0.5: c30 (0.35); c38 is exactly 0.5, c01
    # 0.93, c36 has no prediction (NULL); c11/c37 are under 0.5 but not big spenders
    "clv_high_value_churn_risk": ids("c30"),
    # 26 universe customers have a clv (c99 is no customer, c35/c36 no row): top ceil(5.2) = 6
    # = c01 c29 c10 c38 c30 c31 (c31 beats c22 on the 950.0 tie by id); first order <= 90
    # days ago: c01 (45), c29 (7), c31 (14), not c10 (200), c38 (104), c30 (110)
    "clv_new_high_value": ids("c01", "c29", "c31"),
    # stored p_alive < 0.2: c11 (0.19), c37 (0.12); c12 is exactly 0.2, c99 is no customer
    "clv_probably_lost": ids("c11", "c37"),
}

#: Hand-worked members at the shop's DST as_of (2024-03-31 01:30 UTC, D = 2024-03-31) for
#: library segments without a member at the main as_of. At that instant 14 customers have
#: orders (c01's 03-31 order is at 10:00 UTC, later); k = 5 and n = 14 score positions
#: 0-2 1, 3-5 2, 6-7 3, 8-10 4, 11-13 5.
#: R (days: c10 155, c09 136, c08 135, c12 106, c11 105, c07 76, c06 75, c30 65, c37 31,
#: c05 16, c38 16, c04 15, c17 1, c16 0); F (all 1 but c38 with 2, ties by id);
#: M (c12 40, c11 60, c37 70, c06 75.50, c07 75.50, c16 90, c17 90, c30 100, c10 150,
#: c38 200, c04 250, c05 250, c08 300, c09 300). Scores (R, F, M): c04 (5,1,4), c05 (4,1,5),
#: c06 (3,1,2), c07 (2,2,2), c08 (1,2,5), c09 (1,2,5), c10 (1,3,4), c11 (2,3,1),
#: c12 (2,4,1), c16 (5,4,2), c17 (5,4,3), c30 (3,5,3), c37 (4,5,1), c38 (4,5,4).
DST_EXPECTED: dict[str, frozenset[str]] = {
    # (3-4, 1-3, 3-5) not Potential Loyalist (F1) nor Loyal (F1): c05 (4,1,5); c04 is R5
    "rfm_promising": ids("c05"),
    # (1-2, 3-4, 4-5), none of the rows above matching: c10 (1,3,4); c08/c09 have F2
    "rfm_cant_lose_them": ids("c10"),
    # universe of 35 (c03, c15, c35 sign up later), top 7 by spend: c09 c08 (300) c05 c04
    # (250) c38 (200) c10 (150) c30 (100); of them pre-churn or churn: c08 (135 days), c09
    # (136), c10 (155) churn and c30 (65) pre-churn; c04, c05, c38 are active (15-16 days)
    "big_spenders_at_risk": ids("c08", "c09", "c10", "c30"),
}


def _case(library_name: str, expected: frozenset[str], as_of: Any, suffix: str = "") -> SegmentCase:
    entry = LIBRARY_BY_NAME[library_name]
    return SegmentCase(
        case_name(library_name) + suffix, from_external(entry["where"]), expected, as_of
    )


#: One case per library entry, at the main as_of, in library order.
LIBRARY_CASES: list[SegmentCase] = [
    _case(entry["name"], EXPECTED[entry["name"]], AS_OF)
    for entry in LIBRARY
    if entry["name"] in EXPECTED
]
#: Extra cases at the DST as_of for entries without a member at the main one.
DST_CASES: list[SegmentCase] = [
    _case(name, expected, AS_OF_DST, "_dst") for name, expected in DST_EXPECTED.items()
]
