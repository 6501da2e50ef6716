"""Exact planning: priority and exclusion, variant split, holdout draw, language fallback."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from segmentum.campaigns.audience import Pricing, plan
from segmentum.campaigns.model import Campaign
from segmentum.campaigns.policy import Policy
from segmentum.catalog.settings import SmsPricing
from segmentum.compiler.bucket import bucket_python
from segmentum.service import campaigns as service
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import (
    customer,
    load_customers,
    load_subscriptions,
    outbox_settings,
    tag_segments,
)

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
N = 400


def _audience(segments: list[str], languages: list[str | None]) -> pa.Table:
    return pa.table(
        {
            "customer_id": [f"C{i:04d}" for i in range(len(segments))],
            "segment": segments,
            "phone": [f"+420777{i:06d}" for i in range(len(segments))],
            "email": pa.nulls(len(segments), pa.string()),
            "timezone": ["Europe/Prague"] * len(segments),
            "country": ["CZ"] * len(segments),
            "language": pa.array(languages, pa.string()),
            "first_name": [f"N{i}" for i in range(len(segments))],
        }
    )


def _consent(n: int) -> pa.Table:
    return pa.table(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "channel": ["sms"] * n,
            "status": ["opted_in"] * n,
            "changed_at": pa.array([datetime(2026, 1, 1)] * n, pa.timestamp("us")),
        }
    )


CAMPAIGN = Campaign.model_validate(
    {
        "name": "ab",
        "channel": "sms",
        "segments": [
            {
                "segment": "vip",
                "holdout_pct": 10,
                "variants": [
                    {"name": "a", "split": 30, "template": {
                        "body": "A {{ first_name }}",
                        "languages": {"cs": {"body": "A-cs"}, "pt-br": {"body": "A-ptbr"}}}},
                    {"name": "b", "split": 70, "template": {"body": "B"}},
                ],
            }
        ],
        "default_template": {"body": "G"},
        "generic_pct": 20,
    }
)  # fmt: skip


def test_variant_split_holdout_and_generic_follow_the_bucket_rule() -> None:
    result = plan(CAMPAIGN, "ab", 1, _audience(["vip"] * N, ["en"] * N), _consent(N), None,
                  None, Policy(), NOW)  # fmt: skip
    rows = {r["customer_id"]: r for r in result.ledger.to_pylist()}
    for cid, row in rows.items():
        held = bucket_python("ab", cid, 100) < 10
        generic = not held and bucket_python("ab:generic", cid, 100) < 20
        variant = "a" if bucket_python("ab:vip:variant", cid, 100) < 30 else "b"
        assert row["held_out"] is held
        assert row["generic"] is generic
        assert row["variant"] == variant
        if held:
            expected_body = None
        elif generic:
            expected_body = "G"
        else:
            expected_body = "B" if variant == "b" else f"A N{int(cid[1:])}"
        assert row["body"] == expected_body
        assert row["status"] == ("skipped" if held else "queued")


def _budget_outcome(budget: dict[str, Any]) -> list[tuple[Any, ...]]:
    audience = _audience(["vip"] * 6, ["en"] * 6)
    audience = audience.set_column(  # 200 characters: two SMS parts
        audience.schema.get_field_index("first_name"), "first_name",
        pa.array(["a", "b" * 200, "c", "d", "e" * 200, "f"], pa.string()),
    )  # fmt: skip
    audience = audience.set_column(
        audience.schema.get_field_index("country"), "country",
        pa.array(["CZ", "sk", "CZ", "SK", "CZ", "CZ"], pa.string()),
    )  # fmt: skip
    campaign = Campaign.model_validate({
        "name": "budget", "channel": "sms", "budget": budget,
        "segments": [{"segment": "vip", "template": {"body": "{{ first_name }}"}}],
    })  # fmt: skip
    pricing = Pricing(SmsPricing(price_per_segment=Decimal("0.5")),
                      {"SK": SmsPricing(price_per_segment=Decimal("1.25"))})  # fmt: skip
    result = plan(campaign, "budget", 1, audience, _consent(6), None, None, Policy(), NOW,
                  pricing=pricing)  # fmt: skip
    summary = [(r["queued"], r["budget"], r["sms_segments"], r["cost"]) for r in result.summary]
    rows = [(r["customer_id"], r["status"], r["reason"], r["sms_segments"], r["cost"])
            for r in result.ledger.to_pylist()]  # fmt: skip
    return [*rows, *summary]


def test_budget_in_sms_parts_is_a_running_sum_in_priority_order() -> None:
    # running parts 1, 3, 4, 5, 7, 8: past 5 from the fifth message on
    assert _budget_outcome({"max_sms_segments": 5}) == [
        ("C0000", "queued", None, 1, Decimal("0.500000")),
        ("C0001", "queued", None, 2, Decimal("2.500000")),  # "sk": the SK price
        ("C0002", "queued", None, 1, Decimal("0.500000")),
        ("C0003", "queued", None, 1, Decimal("1.250000")),
        ("C0004", "skipped", "budget", None, None),
        ("C0005", "skipped", "budget", None, None),
        (4, 2, 5, Decimal("4.750000")),
    ]


def test_budget_in_cost_is_exact_at_the_limit() -> None:
    # running cost 0.50, 3.00, 3.50 (= the limit: still in), 4.75, 5.75, 6.25
    assert _budget_outcome({"max_cost": "3.5"}) == [
        ("C0000", "queued", None, 1, Decimal("0.500000")),
        ("C0001", "queued", None, 2, Decimal("2.500000")),
        ("C0002", "queued", None, 1, Decimal("0.500000")),
        ("C0003", "skipped", "budget", None, None),
        ("C0004", "skipped", "budget", None, None),
        ("C0005", "skipped", "budget", None, None),
        (3, 3, 4, Decimal("3.500000")),
    ]


def test_language_fallback_exact_then_primary_then_default() -> None:
    languages: list[str | None] = ["cs", "cs-CZ", "pt-BR", "pt", "de", None]
    ids = [f"C{i:04d}" for i in range(len(languages))]
    only_a = CAMPAIGN.model_copy(
        update={"generic_pct": 0, "segments": (CAMPAIGN.segments[0].model_copy(update={
            "holdout_pct": 0, "variants": (CAMPAIGN.segments[0].variants[0].model_copy(
                update={"split": 100}),)}),)}
    )  # fmt: skip
    result = plan(only_a, "ab", 1, _audience(["vip"] * len(ids), languages),
                  _consent(len(ids)), None, None, Policy(), NOW)  # fmt: skip
    bodies = {r["customer_id"]: (r["language"], r["body"]) for r in result.ledger.to_pylist()}
    assert bodies == {
        "C0000": ("cs", "A-cs"),
        "C0001": ("cs", "A-cs"),
        "C0002": ("pt-br", "A-ptbr"),
        "C0003": (None, "A N3"),
        "C0004": (None, "A N4"),
        "C0005": (None, "A N5"),
    }


def test_priority_and_exclusion_in_the_engine(workspace: Workspace, tmp_path: object) -> None:
    outbox_settings(workspace, str(tmp_path))
    load_customers(
        workspace,
        [customer(1, ["b", "a"]), customer(2, ["b"]), customer(3, ["a", "x"]),
         customer(4, ["x"]), customer(5, [])],
    )  # fmt: skip
    load_subscriptions(workspace, [(f"C{i:04d}", "sms", "opted_in") for i in range(1, 6)])
    tag_segments(workspace, "a", "b", "x")
    campaign = service.parse_campaign(
        {"name": "prio", "channel": "sms", "exclude": ["x"],
         "segments": [{"segment": "a", "template": {"body": "A"}},
                      {"segment": "b", "template": {"body": "B"}}]}
    )  # fmt: skip
    audience = service.audience_arrow(workspace, campaign, NOW)
    got = sorted(zip(audience.column("customer_id").to_pylist(),
                     audience.column("segment").to_pylist(), strict=True))  # fmt: skip
    assert got == [("C0001", "a"), ("C0002", "b")]
