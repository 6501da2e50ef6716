"""Automation rules and their scheduling: when a customer enters (or leaves) a segment, do an
action, optionally after a delay and only if they are still (not) a member.

The rules are data (Pydantic, stored as JSON). Which membership changes start a run and when
a run is due is decided here, set-based in the app store, from the membership log, which
full refreshes, micro-batches and timers all write. Sending goes through the service layer
(the campaigns' policy gate and ledger): this module does not render or send.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_DELAY = re.compile(r"^(\d+)\s*([hdw])$")
_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Model):
    segment: str = Field(pattern=NAME_PATTERN)
    #: ``enter`` or ``exit`` (not ``on``: YAML reads a bare ``on`` as true)
    when: Literal["enter", "exit"] = "enter"


class SendAction(_Model):
    """A message on a channel, through the policy gate and the send ledger. ``template`` is a
    campaign template (``body``, ``subject``, ``html``, ``languages``)."""

    type: Literal["send"] = "send"
    channel: Literal["sms", "email", "web_push"]
    template: dict[str, Any]


class WebhookAction(_Model):
    """An HTTP POST of a JSON body signed with HMAC-SHA256 under the secret held by the
    environment variable ``secret_env`` (header ``X-Segmentum-Signature: sha256=<hex>``)."""

    type: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://\S+$")
    secret_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")
    max_attempts: int = Field(5, ge=1, le=50)
    backoff_seconds: int = Field(30, ge=0)
    timeout_seconds: float = Field(10.0, gt=0, le=120)


class TagAction(_Model):
    """Add and/or remove tags (``customers.tags`` in the data engine)."""

    type: Literal["tag"] = "tag"
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> TagAction:
        if not self.add and not self.remove:
            raise ValueError("a tag action adds or removes at least one tag")
        if set(self.add) & set(self.remove):
            raise ValueError("a tag cannot be both added and removed")
        return self


Action = Annotated[SendAction | WebhookAction | TagAction, Field(discriminator="type")]


class Automation(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    trigger: Trigger
    action: Action
    #: Wait this long after the change (``24h``, ``3d``, ``1w``); None: at once.
    delay: str | None = None
    #: With a delay: act only if the customer is still in (entry) / still out of (exit) the
    #: segment when the run is due.
    if_still: bool = True
    #: Ignore the entries of a segment's first evaluation (its initial population).
    skip_initial: bool = True

    @field_validator("delay")
    @classmethod
    def _delay(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _DELAY.match(value.strip()):
            raise ValueError("delay is hours, days or weeks: 24h, 3d, 1w")
        return value.strip()

    @property
    def delay_delta(self) -> timedelta:
        if self.delay is None:
            return timedelta(0)
        match = _DELAY.match(self.delay)
        assert match is not None
        return timedelta(hours=int(match.group(1)) * _HOURS[match.group(2)])

    @property
    def change(self) -> str:
        return "entered" if self.trigger.when == "enter" else "exited"


def run_id(automation: str, customer_id: str, segment: str, change: str, at: datetime) -> str:
    """The run's key: one run per automation and membership change."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    raw = "\x1f".join((automation, customer_id, segment, change, stamp))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]
