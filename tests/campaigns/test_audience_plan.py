"""Exact planning: priority and exclusion, variant split, holdout draw, language fallback."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from segmentum.campaigns.audience import plan
from segmentum.campaigns.model import Campaign
from segmentum.campaigns.policy import Policy
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
