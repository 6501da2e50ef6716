"""A campaign as the user writes it (YAML/JSON), validated by Pydantic and stored as JSON.

Everything here is data: who (included segments in priority order, excluded segments), what
(a template per segment, A/B variants, per-language versions, a default template and an
optional generic share), when (now, a local wall-clock time in each recipient's zone, or
daily/weekly) and within which limits (holdout, budget, conversion goal).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Channel = Literal["sms", "email", "web_push"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


#: Allowed state changes; anything else is refused with the current state named.
TRANSITIONS: dict[CampaignState, frozenset[CampaignState]] = {
    CampaignState.DRAFT: frozenset(
        {CampaignState.SCHEDULED, CampaignState.SENDING, CampaignState.CANCELLED}
    ),
    CampaignState.SCHEDULED: frozenset(
        {
            CampaignState.SENDING,
            CampaignState.PAUSED,
            CampaignState.CANCELLED,
            CampaignState.COMPLETED,
        }
    ),
    CampaignState.SENDING: frozenset(
        {
            CampaignState.PAUSED,
            CampaignState.COMPLETED,
            CampaignState.CANCELLED,
            CampaignState.SCHEDULED,
        }
    ),
    CampaignState.PAUSED: frozenset(
        {CampaignState.SENDING, CampaignState.SCHEDULED, CampaignState.CANCELLED}
    ),
    CampaignState.COMPLETED: frozenset(),
    CampaignState.CANCELLED: frozenset(),
}


class Content(_Model):
    """The text of one message: ``body`` (SMS text, e-mail text part, push body); ``subject``
    (e-mail subject, web-push title); ``html`` (e-mail HTML part)."""

    body: str = Field(min_length=1, max_length=20000)
    subject: str | None = Field(None, max_length=998)
    html: str | None = Field(None, max_length=500000)


class Template(Content):
    """A message with optional per-language versions keyed by BCP 47 tag (``cs``, ``pt-BR``).

    A customer's language picks the exact tag, else its primary subtag (``cs-CZ`` → ``cs``),
    else this template's own text (the fallback).
    """

    languages: dict[str, Content] = Field(default_factory=dict)

    @field_validator("languages")
    @classmethod
    def _tags(cls, value: dict[str, Content]) -> dict[str, Content]:
        for tag in value:
            if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", tag):
                raise ValueError(f"language {tag!r} must be a BCP 47 tag such as cs or pt-BR")
        return {tag.lower(): content for tag, content in value.items()}

    def for_language(self, language: str | None) -> tuple[str, Content]:
        """The language key used (``""`` for the fallback) and its content."""
        if language:
            tag = language.strip().lower().replace("_", "-")
            if tag in self.languages:
                return tag, self.languages[tag]
            primary = tag.split("-", 1)[0]
            if primary in self.languages:
                return primary, self.languages[primary]
        return "", self


class Variant(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    #: Percentage of the segment's recipients that get this variant; variants sum to 100.
    split: int = Field(ge=0, le=100)
    template: Template


class SegmentTarget(_Model):
    segment: str = Field(pattern=NAME_PATTERN)
    #: A single template (one variant named ``default``) ...
    template: Template | None = None
    #: ... or A/B variants with splits summing to 100.
    variants: tuple[Variant, ...] = ()
    #: Percentage of this segment's eligible (consenting) audience deliberately not sent.
    holdout_pct: int = Field(0, ge=0, le=100)

    @model_validator(mode="after")
    def _one_of(self) -> SegmentTarget:
        if self.template is not None and self.variants:
            raise ValueError(f"segment {self.segment}: give either template or variants")
        if self.variants:
            names = [variant.name for variant in self.variants]
            if len(set(names)) != len(names):
                raise ValueError(f"segment {self.segment}: variant names must be unique")
            if sum(variant.split for variant in self.variants) != 100:
                raise ValueError(f"segment {self.segment}: variant splits must sum to 100")
        return self

    def resolved_variants(self, default: Template | None) -> tuple[Variant, ...]:
        if self.variants:
            return self.variants
        template = self.template or default
        if template is None:
            raise ValueError(f"segment {self.segment} has no template and there is no default")
        return (Variant(name="default", split=100, template=template),)


class ScheduleNow(_Model):
    type: Literal["now"] = "now"


class ScheduleLocal(_Model):
    """A wall-clock time in each recipient's own zone (the workspace zone when unknown)."""

    type: Literal["local_time"] = "local_time"
    at: datetime

    @field_validator("at")
    @classmethod
    def _naive(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("give a local date-time without an offset: 2026-12-01T10:00")
        return value


class ScheduleRecurring(_Model):
    """Every day (or every ``weekday``) at ``time`` in each recipient's zone."""

    type: Literal["recurring"] = "recurring"
    every: Literal["daily", "weekly"]
    time: time
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    start: date | None = None
    until: date | None = None

    @model_validator(mode="after")
    def _weekday(self) -> ScheduleRecurring:
        if (self.every == "weekly") != (self.weekday is not None):
            raise ValueError("weekly schedules need a weekday; daily ones take none")
        return self


Schedule = Annotated[ScheduleNow | ScheduleLocal | ScheduleRecurring, Field(discriminator="type")]


class Goal(_Model):
    """Conversion: a purchase (optionally of a category or product) within N days of sending."""

    type: Literal["purchase"] = "purchase"
    within_days: int = Field(7, ge=1, le=365)
    category: str | None = None
    product_id: str | None = None


class Budget(_Model):
    """Stop planning sends once either cap is reached (in segment priority order)."""

    max_sms_segments: int | None = Field(None, ge=0)
    max_cost: Decimal | None = Field(None, ge=0)


class Campaign(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    channel: Channel
    #: Included segments in priority order: a person in several gets the first one's message.
    segments: tuple[SegmentTarget, ...] = Field(min_length=1)
    exclude: tuple[Annotated[str, Field(pattern=NAME_PATTERN)], ...] = ()
    default_template: Template | None = None
    #: Percentage of non-held-out recipients sent the default template instead.
    generic_pct: int = Field(0, ge=0, le=100)
    schedule: Schedule = Field(default_factory=ScheduleNow)
    goal: Goal | None = None
    budget: Budget | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        names = [target.segment for target in self.segments]
        if len(set(names)) != len(names):
            raise ValueError("an included segment is listed twice")
        overlap = set(names) & set(self.exclude)
        if overlap:
            raise ValueError(f"segment(s) both included and excluded: {sorted(overlap)}")
        if self.generic_pct and self.default_template is None:
            raise ValueError("generic_pct needs a default_template")
        for target in self.segments:
            target.resolved_variants(self.default_template)
        budget = self.budget
        if budget is not None and budget.max_sms_segments is not None and self.channel != "sms":
            raise ValueError("max_sms_segments applies to SMS campaigns only")
        return self

    def templates(self) -> dict[tuple[str, str], Template]:
        """(segment, variant) → template; the generic share is ("*", "generic")."""
        out: dict[tuple[str, str], Template] = {}
        for target in self.segments:
            for variant in target.resolved_variants(self.default_template):
                out[(target.segment, variant.name)] = variant.template
        if self.default_template is not None:
            out[("*", "generic")] = self.default_template
        return out

    @property
    def is_recurring(self) -> bool:
        return isinstance(self.schedule, ScheduleRecurring)
