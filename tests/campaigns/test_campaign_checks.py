"""A campaign is checked before it is stored, the same way from the service, the CLI and REST:

* every template (each variant, language version and the generic share) must render for a
  sample customer whose every field is filled in; one that fails even then would fail for
  every recipient, so it is refused with one line naming the variant and the problem;
* splits, holdouts and the generic share: the message says which number is wrong and what is
  allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from segmentum.campaigns.model import Campaign
from segmentum.campaigns.sample_recipient import sample_context
from segmentum.campaigns.templates import available_fields
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service import browse
from segmentum.service import campaigns as service
from segmentum.service.errors import ServiceError
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import outbox_settings, sms_campaign, tag_segments
from tests.cli.runner import run
from tests.web.shop import IBIS_PANDAS_WARNING, build_shop, client_for, log_in

pytestmark = pytest.mark.filterwarnings(IBIS_PANDAS_WARNING)

FAILS = "does not render even for a customer with every field filled in"


@pytest.fixture
def ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    outbox_settings(workspace, str(tmp_path / "outbox"))
    tag_segments(workspace, "vip", "lapsed", "complained")
    return workspace


def one_segment(template: dict[str, Any] | None = None, **target: Any) -> list[dict[str, Any]]:
    if template is not None:
        target["template"] = template
    return [{"segment": "vip", **target}]


# --- templates that cannot render ---------------------------------------------------------------

REFUSED_TEMPLATES = [
    pytest.param(
        {"segments": one_segment({"body": "{{ cycler.__init__.__globals__ }}"})},
        f"campaign spring: template problems: segment vip, variant default: {FAILS}: body "
        "line 1: not allowed: access to attribute '__init__' of 'type' object is unsafe.",
        id="sandbox-escape-through-a-global",
    ),
    pytest.param(
        {"segments": one_segment({"body": "{{ ''.__class__.__mro__ }}"})},
        f"campaign spring: template problems: segment vip, variant default: {FAILS}: body "
        "line 1: not allowed: access to attribute '__class__' of 'str' object is unsafe.",
        id="sandbox-escape-through-a-literal",
    ),
    pytest.param(
        {
            "segments": one_segment(
                variants=[
                    {"name": "a", "split": 50, "template": {"body": "Hi {{ first_name }}"}},
                    {"name": "b", "split": 50, "template": {"body": "Hi\n{{ 1 / 0 }}"}},
                ]
            )
        },
        f"campaign spring: template problems: segment vip, variant b: {FAILS}: body line 2: "
        "ZeroDivisionError: division by zero",
        id="one-variant-of-two",
    ),
    pytest.param(
        {
            "segments": one_segment(
                {"body": "Hi", "languages": {"cs": {"body": "{{ range(100000) | length }}"}}}
            )
        },
        f"campaign spring: template problems: segment vip, variant default, language cs: "
        f"{FAILS}: body line 1: range of 100000 items exceeds the cap of 10000",
        id="a-language-version",
    ),
    pytest.param(
        {"segments": one_segment({"body": "{{ first_name.center(30) }}"})},
        f"campaign spring: template problems: segment vip, variant default: {FAILS}: body "
        "line 1: not allowed: access to attribute 'center' of 'str' object is unsafe.",
        id="an-unsafe-method",
    ),
    pytest.param(
        {
            "segments": one_segment({"body": "Hi {{ first_name }}"}),
            "default_template": {"body": "{{ 'x' * 300000 }}"},
            "generic_pct": 10,
        },
        f"campaign spring: template problems: default_template (the generic share): {FAILS}: "
        "body line 1: repetition would build 300000 characters or items (cap 262144)",
        id="the-generic-share",
    ),
    pytest.param(
        {
            "segments": [
                {"segment": "vip", "template": {"body": "{{ 1 // 0 }}"}},
                {"segment": "lapsed", "template": {"body": "Hi {{ frist_name }}"}},
            ]
        },
        f"campaign spring: template problems: segment vip, variant default: {FAILS}: body "
        "line 1: ZeroDivisionError: integer division or modulo by zero; segment lapsed, "
        "variant default: unknown field(s) frist_name",
        id="every-problem-on-one-line",
    ),
    pytest.param(
        {"segments": one_segment({"body": "Hi {{ first_name "})},
        "campaign spring: template problems: segment vip, variant default: body line 1: "
        "syntax error: unexpected end of template, expected 'end of print statement'.",
        id="syntax-error",
    ),
]


@pytest.mark.parametrize(("changes", "message"), REFUSED_TEMPLATES)
def test_a_template_that_cannot_render_is_refused(
    ws: Workspace, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        service.create_campaign(ws, service.parse_campaign(sms_campaign(**changes)))
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)
    assert service.list_campaigns(ws) == []


def test_an_email_html_part_that_cannot_render_is_refused(ws: Workspace) -> None:
    template = {"subject": "Hi", "body": "Hi", "html": "<p>{{ ''.join }}</p>"}
    definition = sms_campaign(channel="email", segments=one_segment(template))
    with pytest.raises(ServiceError) as caught:
        service.create_campaign(ws, service.parse_campaign(definition))
    assert str(caught.value) == (
        f"campaign spring: template problems: segment vip, variant default: {FAILS}: html "
        "line 1: not allowed: access to attribute 'join' of 'str' object is unsafe."
    )


def test_a_draft_cannot_be_changed_into_one_that_cannot_render(ws: Workspace) -> None:
    service.create_campaign(ws, service.parse_campaign(sms_campaign()))
    broken = sms_campaign(segments=one_segment({"body": "{{ 1 / 0 }}"}))
    with pytest.raises(ServiceError) as caught:
        browse.update_campaign(ws, "spring", broken)
    assert str(caught.value) == (
        f"campaign spring: template problems: segment vip, variant default: {FAILS}: body "
        "line 1: ZeroDivisionError: division by zero"
    )
    _, kept = service.get_campaign(ws, "spring")
    assert kept.segments[0].template is not None
    assert kept.segments[0].template.body == "VIP {{ first_name }}"


ACCEPTED_TEMPLATES = [
    pytest.param({"body": "Hi {{ first_name }}"}, id="a-field-some-customers-lack"),
    pytest.param(
        {"body": "{{ birth_date | date }} {{ signup_at | datetime('short') }} {{ signup_date }}"},
        id="dates",
    ),
    pytest.param(
        {
            "body": "{{ last_order.amount | money }} {{ last_order.products | first }} "
            "{{ last_order.number }} {{ last_order.ordered_at | datetime }}"
        },
        id="the-last-order",
    ),
    pytest.param(
        {
            "body": "{{ tags | join(', ') }} {{ first_name[0] }} {{ loyalty_member }} "
            "{{ campaign.name }} {{ currency }}"
        },
        id="lists-booleans-and-the-campaign",
    ),
    pytest.param(
        {
            "body": "{{ shoe_size + 1 }} {{ vegan }} {{ member_since | date }} "
            "{{ hobbies | first }} {{ nickname | upper }}"
        },
        id="custom-attributes-of-every-type",
    ),
    pytest.param(
        {
            "body": "Hi",
            "languages": {
                "cs": {"body": "{{ last_order.amount | money }}"},
                "ru": {"body": "{{ birth_date | date('long') }}"},
            },
        },
        id="language-versions-formatted-in-their-locale",
    ),
]


@pytest.mark.parametrize("template", ACCEPTED_TEMPLATES)
def test_a_template_that_renders_for_a_full_customer_is_accepted(
    ws: Workspace, template: dict[str, Any]
) -> None:
    data = ws.settings.model_dump(mode="json")
    data["customer_attributes"] = {"shoe_size": "number", "vegan": "bool",
                                   "member_since": "date", "hobbies": "text_list",
                                   "nickname": "text"}  # fmt: skip
    ws.update_settings(WorkspaceSettings.model_validate(data))
    stored = service.create_campaign(
        ws, service.parse_campaign(sms_campaign(segments=one_segment(template)))
    )
    assert (stored.campaign_id, stored.state) == ("spring", "draft")


def test_the_sample_customer_has_every_field_a_template_may_read() -> None:
    settings = WorkspaceSettings.model_validate(
        {"customer_attributes": {"shoe_size": "number", "hobbies": "text_list"}}
    )
    context = sample_context(settings, "sms", "cs")
    for field in sorted(available_fields(settings)):
        name, _, attribute = field.partition(".")
        value = context[name][attribute] if attribute else context[name]
        assert value is not None, field


# --- splits, holdouts, the generic share --------------------------------------------------------


def variants(*splits: int) -> list[dict[str, Any]]:
    return [
        {"name": name, "split": split, "template": {"body": name}}
        for name, split in zip("abc", splits, strict=False)
    ]


REFUSED_NUMBERS = [
    pytest.param(
        {"segments": one_segment(variants=variants(60, 60))},
        "invalid campaign: segments.0: segment vip: the variant splits add up to 120 "
        "(a 60 + b 60); they must add up to exactly 100",
        id="splits-over-100",
    ),
    pytest.param(
        {"segments": one_segment(variants=variants(45, 45), holdout_pct=10)},
        "invalid campaign: segments.0: segment vip: the variant splits add up to 90 "
        "(a 45 + b 45); they must add up to exactly 100, not counting the holdout: "
        "holdout_pct 10 is taken from the eligible audience first and the splits share the rest",
        id="holdout-counted-into-the-splits",
    ),
    pytest.param(
        {"segments": one_segment(variants=variants(30, 30, 30))},
        "invalid campaign: segments.0: segment vip: the variant splits add up to 90 "
        "(a 30 + b 30 + c 30); they must add up to exactly 100",
        id="three-splits-under-100",
    ),
    pytest.param(
        {"segments": one_segment(variants=variants(150, -50))},
        "invalid campaign: segments.0.variants.0.split: variant a: split is 150; it must be a "
        "whole percentage from 0 to 100; segments.0.variants.1.split: variant b: split is -50; "
        "it must be a whole percentage from 0 to 100",
        id="splits-out-of-range",
    ),
    pytest.param(
        {"segments": one_segment({"body": "x"}, holdout_pct=150)},
        "invalid campaign: segments.0.holdout_pct: segment vip: holdout_pct is 150; it must be "
        "a whole percentage from 0 to 100 of the segment's eligible audience (0 = no holdout)",
        id="holdout-over-100",
    ),
    pytest.param(
        {"segments": one_segment({"body": "x"}, holdout_pct=-1)},
        "invalid campaign: segments.0.holdout_pct: segment vip: holdout_pct is -1; it must be "
        "a whole percentage from 0 to 100 of the segment's eligible audience (0 = no holdout)",
        id="holdout-negative",
    ),
    pytest.param(
        {"generic_pct": 101, "default_template": {"body": "x"}},
        "invalid campaign: generic_pct: generic_pct is 101; it must be a whole percentage "
        "from 0 to 100 of the treated recipients (0 = no generic share)",
        id="generic-share-over-100",
    ),
    pytest.param(
        {"segments": []},
        "invalid campaign: segments: give at least one segment to send to",
        id="no-segment",
    ),
]


@pytest.mark.parametrize(("changes", "message"), REFUSED_NUMBERS)
def test_wrong_percentages_say_what_is_wrong_and_what_is_allowed(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        service.parse_campaign(sms_campaign(**changes))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("target", "splits"),
    [
        pytest.param({"holdout_pct": 10}, [50, 50], id="holdout-beside-splits-of-100"),
        pytest.param({"holdout_pct": 100}, [0, 100], id="bounds-included"),
        pytest.param({"holdout_pct": 0}, [34, 33, 33], id="three-way"),
    ],
)
def test_percentages_in_range_are_accepted(target: dict[str, Any], splits: list[int]) -> None:
    campaign = service.parse_campaign(
        sms_campaign(segments=one_segment(variants=variants(*splits), **target))
    )
    assert [variant.split for variant in campaign.segments[0].variants] == splits


def test_the_schema_still_publishes_the_bounds() -> None:
    schema = Campaign.model_json_schema()
    percent = {"minimum": 0, "maximum": 100}
    assert {k: schema["$defs"]["Variant"]["properties"]["split"][k] for k in percent} == percent
    target = schema["$defs"]["SegmentTarget"]["properties"]["holdout_pct"]
    assert {k: target[k] for k in percent} == percent
    assert {k: schema["properties"]["generic_pct"][k] for k in percent} == percent
    assert schema["properties"]["segments"]["minItems"] == 1


# --- the interfaces refuse through the service ----------------------------------------------


SANDBOX = sms_campaign(segments=one_segment({"body": "{{ cycler.__init__.__globals__ }}"}))
SANDBOX_MESSAGE = (
    f"campaign spring: template problems: segment vip, variant default: {FAILS}: body line 1: "
    "not allowed: access to attribute '__init__' of 'type' object is unsafe."
)
SPLITS = sms_campaign(segments=one_segment(variants=variants(45, 45), holdout_pct=10))
SPLITS_MESSAGE = (
    "segment vip: the variant splits add up to 90 (a 45 + b 45); they must add up to exactly "
    "100, not counting the holdout: holdout_pct 10 is taken from the eligible audience first "
    "and the splits share the rest"
)


@pytest.mark.parametrize(
    ("definition", "stderr"),
    [
        pytest.param(SANDBOX, f"error: {SANDBOX_MESSAGE}\n", id="cannot-render"),
        pytest.param(
            SPLITS, f"error: invalid campaign: segments.0: {SPLITS_MESSAGE}\n", id="splits"
        ),
    ],
)
def test_the_cli_refuses_with_one_line(
    tmp_path: Path, definition: dict[str, Any], stderr: str
) -> None:
    db = tmp_path / "shop.duckdb"
    ws = Workspace.open(str(db))
    try:
        outbox_settings(ws, str(tmp_path / "outbox"))
        tag_segments(ws, "vip", "lapsed", "complained")
    finally:
        ws.close()
    path = tmp_path / "spring.yaml"
    path.write_text(yaml.safe_dump(definition), encoding="utf-8")
    result = run(db, "campaigns", "create", "--file", str(path))
    assert (result.returncode, result.stdout, result.stderr) == (1, "", stderr)
    listed = run(db, "campaigns", "list", "--format", "json", check=True)
    assert listed.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("definition", "status", "code", "message", "issues"),
    [
        pytest.param(SANDBOX, 400, "bad_request", SANDBOX_MESSAGE, [], id="cannot-render"),
        pytest.param(
            SPLITS,
            422,
            "validation_error",
            f"invalid request: /body/segments/0: Value error, {SPLITS_MESSAGE}",
            [
                {
                    "code": "value_error",
                    "path": "/body/segments/0",
                    "message": f"Value error, {SPLITS_MESSAGE}",
                }
            ],
            id="splits",
        ),
    ],
)
def test_rest_refuses_with_the_error_body(
    tmp_path: Path,
    definition: dict[str, Any],
    status: int,
    code: str,
    message: str,
    issues: list[dict[str, str]],
) -> None:
    db = build_shop(tmp_path)  # has a draft "spring" already: create another name
    body = {**definition, "name": "autumn"}
    with client_for(db) as client:
        log_in(client, "marketer")
        answer = client.post("/api/campaigns", json=body)
        assert answer.status_code == status
        assert answer.json() == {
            "code": code,
            "message": message.replace("campaign spring", "campaign autumn"),
            "path": "/api/campaigns",
            "issues": issues,
            "detail": message.replace("campaign spring", "campaign autumn"),
        }
        assert client.get("/api/campaigns/autumn").status_code == 404
