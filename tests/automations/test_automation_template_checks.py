"""Automations are refused like campaigns: template syntax, unknown fields, `on:` for `when:`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from segmentum.cli.app import app
from segmentum.service import automations
from segmentum.service.errors import ServiceError
from segmentum.service.segments import DefinitionSource, create_segment
from segmentum.service.workspace import Workspace
from tests.campaigns.campaign_fixtures import outbox_settings


@pytest.fixture
def ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    outbox_settings(workspace, str(tmp_path / "outbox"))
    create_segment(workspace, "vip", DefinitionSource(data={"where": {"has_tag": "vip"}}))
    return workspace


def send(template: dict[str, Any], channel: str = "sms") -> dict[str, Any]:
    return {
        "name": "welcome",
        "trigger": {"segment": "vip", "when": "enter"},
        "action": {"type": "send", "channel": channel, "template": template},
    }


REFUSED = [
    (
        {"body": "Hi {{ first_name "},
        "automation welcome: template problems: action.template: body line 1: syntax error: "
        "unexpected end of template, expected 'end of print statement'.",
    ),
    (
        {"body": "Hi {{ frist_name }}"},
        "automation welcome: template problems: action.template: unknown field(s) frist_name",
    ),
    (
        {"body": "{{ last_order.amont }} {{ nope }}"},
        "automation welcome: template problems: action.template: unknown field(s) "
        "last_order.amont, nope",
    ),
    (
        {"body": "Hi", "languages": {"cs": {"body": "Ahoj {{ jmeno }}"}}},
        "automation welcome: template problems: action.template.languages.cs: unknown "
        "field(s) jmeno",
    ),
    (
        {"body": "{{ x | no_such_filter }}"},
        "automation welcome: template problems: action.template: body line 1: "
        "No filter named 'no_such_filter'.",
    ),
    (
        {"body": "Hi", "languages": {"cs": {"body": "{{ 1 / 0 }}"}}},
        "automation welcome: template problems: action.template.languages.cs: does not render "
        "even for a customer with every field filled in: body line 1: ZeroDivisionError: "
        "division by zero",
    ),
    (
        {"body": "{{ cycler.__init__.__globals__ }}"},
        "automation welcome: template problems: action.template: does not render even for a "
        "customer with every field filled in: body line 1: not allowed: access to attribute "
        "'__init__' of 'type' object is unsafe.",
    ),
]


@pytest.mark.parametrize(("template", "message"), REFUSED)
def test_create_refuses_bad_templates(
    ws: Workspace, template: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        automations.create_automation(ws, automations.parse_automation(send(template)))
    assert str(caught.value) == message
    assert automations.list_automations(ws) == []


@pytest.mark.parametrize(("template", "message"), REFUSED)
def test_update_refuses_bad_templates(
    ws: Workspace, template: dict[str, Any], message: str
) -> None:
    automations.create_automation(ws, automations.parse_automation(send({"body": "Hi"})))
    with pytest.raises(ServiceError) as caught:
        automations.update_automation(ws, "welcome", automations.parse_automation(send(template)))
    assert str(caught.value) == message
    assert automations.show_automation(ws, "welcome")["definition"]["action"]["template"] == {
        "body": "Hi"
    }


@pytest.mark.parametrize(
    ("template", "channel"),
    [
        ({"body": "Hi {{ first_name | default('friend', true) }}"}, "sms"),
        ({"body": "{{ campaign.name }} {{ last_order.amount | money }}"}, "sms"),
        (
            {"subject": "Hi {{ first_name | default('x') }}", "body": "b", "html": "<p>h</p>"},
            "email",
        ),
        ({"body": "Hi", "languages": {"cs": {"body": "Ahoj {{ first_name | d('') }}"}}}, "sms"),
    ],
)
def test_create_accepts_good_templates(
    ws: Workspace, template: dict[str, Any], channel: str
) -> None:
    created = automations.create_automation(
        ws, automations.parse_automation(send(template, channel))
    )
    assert created == {"name": "welcome", "state": "active"}


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        (
            "{segment: vip, on: enter}",
            "invalid automation: trigger: YAML reads the key on (or yes) as true; "
            "write when: enter or when: exit",
        ),
        (
            "{segment: vip, off: exit}",
            "invalid automation: trigger: YAML reads the key off (or no) as false; "
            "write when: enter or when: exit",
        ),
        (
            "{segment: vip, whn: enter}",
            "invalid automation: trigger.whn: Extra inputs are not permitted",
        ),
    ],
)
def test_misnamed_trigger_key_names_the_right_key(trigger: str, message: str) -> None:
    data = yaml.safe_load(f"name: welcome\ntrigger: {trigger}\naction: {{type: tag, add: [vip]}}\n")
    with pytest.raises(ServiceError) as caught:
        automations.parse_automation(data)
    assert str(caught.value) == message


def test_boolean_key_outside_the_trigger_asks_for_quotes() -> None:
    data = yaml.safe_load("name: welcome\ntrigger: {segment: vip}\naction: {type: tag, yes: 1}\n")
    with pytest.raises(ServiceError) as caught:
        automations.parse_automation(data)
    assert str(caught.value) == (
        "invalid automation: action.tag: YAML reads the key on (or yes) as true; quote it"
    )


@pytest.mark.parametrize(
    ("body", "exit_code", "stderr"),
    [
        ('"Hi {{ first_name "', 1, "unexpected end of template"),
        ('"Hi {{ frist_name }}"', 1, "unknown field(s) frist_name"),
        ("\"Hi {{ first_name | default('x') }}\"", 0, "created automation welcome (active)"),
    ],
)
def test_cli_create(ws: Workspace, tmp_path: Path, body: str, exit_code: int, stderr: str) -> None:
    definition = tmp_path / "auto.yaml"
    definition.write_text(
        "name: welcome\ntrigger: {segment: vip, when: enter}\n"
        f"action: {{type: send, channel: sms, template: {{body: {body}}}}}\n",
        encoding="utf-8",
    )
    path = str(tmp_path / "test.duckdb")
    ws.close()
    result = CliRunner().invoke(app, ["--db", path, "automations", "create", "--file",
                                      str(definition)])  # fmt: skip
    assert result.exit_code == exit_code
    if exit_code:
        assert isinstance(result.exception, ServiceError)
        assert stderr in str(result.exception)
    else:
        assert stderr in result.stderr
