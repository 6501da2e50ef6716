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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Channel = Literal["sms", "email", "web_push"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Splits, holdouts and the generic share are whole percentages; the bounds are checked by
#: the validators below (whose messages name the value given) and published in the schema.
PERCENT_SCHEMA: JsonDict = {"minimum": 0, "maximum": 100}


def percent_problem(what: str, value: int) -> str | None:
    """Why ``value`` is not a whole percentage, or None when it is one."""
    if 0 <= value <= 100:
        return None
    return f"{what} is {value}; it must be a whole percentage from 0 to 100"


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
    #: Percentage of the segment's treated recipients that get this variant; the variants of a
    #: segment add up to 100.
    split: int = Field(json_schema_extra=PERCENT_SCHEMA)
    template: Template

    @field_validator("split")
    @classmethod
    def _split_percent(cls, value: int, info: ValidationInfo) -> int:
        problem = percent_problem(f"variant {info.data.get('name', '?')}: split", value)
        if problem:
            raise ValueError(problem)
        return value


class SegmentTarget(_Model):
    segment: str = Field(pattern=NAME_PATTERN)
    #: A single template (one variant named ``default``) ...
    template: Template | None = None
    #: ... or A/B variants with splits adding up to 100.
    variants: tuple[Variant, ...] = ()
    #: Percentage of this segment's eligible (consenting) audience deliberately not sent. It
    #: is drawn before the variants: the splits share whoever is not held out.
    holdout_pct: int = Field(0, json_schema_extra=PERCENT_SCHEMA)

    @field_validator("holdout_pct")
    @classmethod
    def _holdout_percent(cls, value: int, info: ValidationInfo) -> int:
        problem = percent_problem(f"segment {info.data.get('segment', '?')}: holdout_pct", value)
        if problem:
            raise ValueError(f"{problem} of the segment's eligible audience (0 = no holdout)")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> SegmentTarget:
        if self.template is not None and self.variants:
            raise ValueError(f"segment {self.segment}: give either template or variants")
        if self.variants:
            names = [variant.name for variant in self.variants]
            if len(set(names)) != len(names):
                raise ValueError(f"segment {self.segment}: variant names must be unique")
            total = sum(variant.split for variant in self.variants)
            if total != 100:
                raise ValueError(self._splits_problem(total))
        return self

    def _splits_problem(self, total: int) -> str:
        # Users often count the holdout in (45 + 45 + 10): say where it goes.
        terms = " + ".join(f"{variant.name} {variant.split}" for variant in self.variants)
        problem = (
            f"segment {self.segment}: the variant splits add up to {total} ({terms}); "
            "they must add up to exactly 100"
        )
        if self.holdout_pct:
            problem += (
                f", not counting the holdout: holdout_pct {self.holdout_pct} is taken from "
                "the eligible audience first and the splits share the rest"
            )
        return problem

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
    #: (At least one: checked by a validator, so that a segment with a mistake is reported
    #: once, not again as "no segments".)
    segments: tuple[SegmentTarget, ...] = Field(json_schema_extra={"minItems": 1})
    exclude: tuple[Annotated[str, Field(pattern=NAME_PATTERN)], ...] = ()
    default_template: Template | None = None
    #: Percentage of non-held-out recipients sent the default template instead.
    generic_pct: int = Field(0, json_schema_extra=PERCENT_SCHEMA)
    schedule: Schedule = Field(default_factory=ScheduleNow)
    goal: Goal | None = None
    budget: Budget | None = None

    @field_validator("segments")
    @classmethod
    def _some_segment(cls, value: tuple[SegmentTarget, ...]) -> tuple[SegmentTarget, ...]:
        if not value:
            raise ValueError("give at least one segment to send to")
        return value

    @field_validator("generic_pct")
    @classmethod
    def _generic_percent(cls, value: int) -> int:
        problem = percent_problem("generic_pct", value)
        if problem:
            raise ValueError(f"{problem} of the treated recipients (0 = no generic share)")
        return value

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
