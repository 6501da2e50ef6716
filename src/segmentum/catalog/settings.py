"""Workspace settings: every one has a default, so a workspace works without a settings file."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from segmentum.catalog.events import BUILTIN_EVENT_TYPES, RESERVED_PROPERTY_NAMES
from segmentum.catalog.mapping import TableMapping
from segmentum.catalog.tables import CUSTOMERS, PRODUCTS, TABLES_BY_NAME
from segmentum.catalog.types import CUSTOM_ATTRIBUTE_TYPES, ValueType

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
Identifier = Annotated[str, Field(pattern=_IDENTIFIER.pattern)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LifecycleSettings(_Model):
    """Day thresholds of the activity stages (days since the last purchase)."""

    active_days: int = Field(60, ge=0)
    pre_churn_days: int = Field(120, ge=0)
    churn_days: int = Field(180, ge=0)
    #: A purchase after a gap longer than this makes an active customer "returned".
    returned_gap_days: int = Field(120, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleSettings:
        if not self.active_days < self.pre_churn_days < self.churn_days:
            raise ValueError("thresholds must grow: active_days < pre_churn_days < churn_days")
        return self


class RfmRule(_Model):
    """One row of a score→name table: inclusive score ranges; None means any score."""

    name: str = Field(min_length=1, max_length=100)
    r: tuple[int, int] | None = None
    f: tuple[int, int] | None = None
    m: tuple[int, int] | None = None


class RfmSettings(_Model):
    bins: Literal[3, 4, 5] = 5
    preset: str = "ranges"
    #: A workspace's own score→name table; replaces the preset's when given.
    groups: tuple[RfmRule, ...] | None = None


class QuietHours(_Model):
    start: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field("21:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class FrequencyCap(_Model):
    channel: Literal["sms", "email", "web_push"]
    max_messages: int = Field(ge=1)
    per_hours: int = Field(ge=1)


class EventTypeDeclaration(_Model):
    properties: dict[Identifier, ValueType] = Field(default_factory=dict)
    description: str = ""


def _default_caps() -> tuple[FrequencyCap, ...]:
    return (
        FrequencyCap(channel="sms", max_messages=1, per_hours=24),
        FrequencyCap(channel="sms", max_messages=3, per_hours=168),
    )


class SmsPricing(_Model):
    """Sender id and price per SMS segment (workspace currency) for one country or the default."""

    sender_id: str | None = Field(None, max_length=16)
    price_per_segment: Decimal = Field(Decimal("0"), ge=0)


class SeedList(_Model):
    """Internal addresses that receive test sends (never customers)."""

    sms: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    web_push: tuple[str, ...] = ()


class DeliverySettings(_Model):
    """Retries of temporary provider errors and the worker's claim lease."""

    max_attempts: int = Field(5, ge=1)
    backoff_seconds: int = Field(30, ge=0)
    lease_seconds: int = Field(120, ge=1)
    batch_size: int = Field(100, ge=1)


class TrackingSettings(_Model):
    """Tracked links: ``<base_url>/r/<8-character code>`` redirects (``segmentum serve``) to
    the destination with UTM parameters; ``enabled`` false leaves links as written."""

    enabled: bool = True
    base_url: str = Field("http://localhost:8000", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


def _default_channels() -> dict[str, dict[str, Any]]:
    return {
        channel: {"type": "outbox", "path": f"outbox/{channel}.jsonl"}
        for channel in ("sms", "email", "web_push")
    }


class WorkspaceSettings(_Model):
    timezone: str = "UTC"
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    #: Units of the workspace currency per one unit of another currency.
    rates: dict[str, Decimal] = Field(default_factory=dict)
    customer_attributes: dict[Identifier, ValueType] = Field(default_factory=dict)
    product_attributes: dict[Identifier, ValueType] = Field(default_factory=dict)
    event_types: dict[Identifier, EventTypeDeclaration] = Field(default_factory=dict)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    rfm: RfmSettings = Field(default_factory=RfmSettings)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    quiet_hours_by_country: dict[str, QuietHours] = Field(default_factory=dict)
    frequency_caps: tuple[FrequencyCap, ...] = Field(default_factory=_default_caps)
    #: Channel configuration by channel name (``{"type": "outbox"|"smtp"|"http_sms"|...}``).
    channels: dict[str, dict[str, Any]] = Field(default_factory=_default_channels)
    sms_pricing: SmsPricing = Field(default_factory=SmsPricing)
    sms_pricing_by_country: dict[str, SmsPricing] = Field(default_factory=dict)
    seed_list: SeedList = Field(default_factory=SeedList)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    #: Per-channel send rate limits in messages per second (absent: unlimited).
    send_rate_per_second: dict[str, float] = Field(default_factory=dict)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    #: Warehouse mode: catalog tables read from existing tables or Parquet folders on the
    #: data engine (docs/warehouse.md); empty means every table is Segmentum's own.
    table_mappings: dict[str, TableMapping] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone {value!r}") from error
        return value

    @field_validator("table_mappings")
    @classmethod
    def _mapped_tables_exist(cls, value: dict[str, TableMapping]) -> dict[str, TableMapping]:
        for name in value:
            if name not in TABLES_BY_NAME:
                known = ", ".join(TABLES_BY_NAME)
                raise ValueError(f"table_mappings: {name!r} is not a catalog table ({known})")
        return value

    @field_validator("rates")
    @classmethod
    def _positive_rates(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for code, rate in value.items():
            if not re.fullmatch(r"[A-Z]{3}", code) or rate <= 0:
                raise ValueError(f"rate for {code!r} must be a positive number keyed by ISO code")
        return value

    @field_validator("customer_attributes", "product_attributes")
    @classmethod
    def _custom_types(cls, value: dict[str, ValueType]) -> dict[str, ValueType]:
        for name, value_type in value.items():
            if value_type not in CUSTOM_ATTRIBUTE_TYPES:
                allowed = ", ".join(sorted(t.value for t in CUSTOM_ATTRIBUTE_TYPES))
                raise ValueError(f"attribute {name!r}: type must be one of {allowed}")
        return value

    @model_validator(mode="after")
    def _no_name_clashes(self) -> WorkspaceSettings:
        for name in self.customer_attributes:
            if CUSTOMERS.has_column(name):
                raise ValueError(f"custom attribute {name!r} clashes with a customers column")
        for name in self.product_attributes:
            if PRODUCTS.has_column(name):
                raise ValueError(f"product attribute {name!r} clashes with a products column")
        builtin = {event_type.name for event_type in BUILTIN_EVENT_TYPES}
        seen: dict[str, ValueType] = {
            prop: prop_type
            for event_type in BUILTIN_EVENT_TYPES
            for prop, prop_type in event_type.properties.items()
        }
        for event_name, declaration in self.event_types.items():
            if event_name in builtin:
                raise ValueError(f"event type {event_name!r} is built in")
            for prop, prop_type in declaration.properties.items():
                if prop in RESERVED_PROPERTY_NAMES:
                    raise ValueError(f"event property {prop!r} is a reserved column name")
                if seen.setdefault(prop, prop_type) != prop_type:
                    raise ValueError(
                        f"event property {prop!r} is declared as {prop_type.value} but is "
                        f"{seen[prop].value} elsewhere; one name has one type"
                    )
        return self
