"""A sample recipient: one customer with every field a template may read filled in.

A template is rendered once for this customer before a campaign or automation is saved. The
field check (`templates.check_fields`) catches names that do not exist; this catches what
only rendering shows: the sandbox refusing an attribute (``cycler.__init__``), a cap
(``range(100000)``), an error on constants (``1 / 0``), an unsafe method. A template that
fails even with every field present fails for every recipient, so saving it would only queue
``render_error`` messages. A value missing for one real customer still makes only that
message ``render_error``: the sample has none missing.

The values have the types the audience rows have (Arrow to Python: text, ``date``, naive UTC
``datetime``, ``Decimal`` money, lists) and are ordinary (non-empty text, non-zero numbers),
so a template that works for real customers works for this one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.tables import CUSTOMERS
from segmentum.catalog.types import ValueType

SAMPLE_BY_TYPE: dict[ValueType, Any] = {
    ValueType.TEXT: "sample",
    ValueType.INTEGER: 3,
    ValueType.NUMBER: 4.5,
    ValueType.MONEY: Decimal("1290.00"),
    ValueType.BOOL: True,
    ValueType.DATE: date(2026, 3, 14),
    ValueType.TIMESTAMP: datetime(2026, 3, 14, 9, 30),
    ValueType.TEXT_LIST: ["sample"],
    ValueType.JSON: "{}",
}

#: Customer columns with a value of their own (the others get their type's sample).
SAMPLE_CUSTOMER: dict[str, Any] = {
    "customer_id": "C000001",
    "first_name": "Jana",
    "last_name": "Nováková",
    "email": "jana.novakova@example.com",
    "phone": "+420601234567",
    "gender": "female",
    "birth_date": date(1988, 6, 1),
    "city": "Praha",
    "region": "Hlavní město Praha",
    "country": "CZ",
    "loyalty_tier": "gold",
    "lead_stage": "customer",
    "tags": ["vip"],
}


def sample_context(
    settings: WorkspaceSettings, channel: str, language: str | None
) -> dict[str, Any]:
    """The render context of the sample recipient: customer columns, custom attributes,
    ``last_order``, ``campaign`` and ``currency`` (what `templates.available_fields` lists)."""
    context: dict[str, Any] = {
        column.name: SAMPLE_CUSTOMER.get(column.name, SAMPLE_BY_TYPE[column.type])
        for column in CUSTOMERS.columns
    }
    for name, value_type in settings.customer_attributes.items():
        context[name] = SAMPLE_BY_TYPE[value_type]
    context["timezone"] = settings.timezone
    context["language"] = language
    context["currency"] = settings.currency
    context["last_order"] = {
        "order_id": "O000001",
        "number": "O000001",
        "date": date(2026, 3, 14),
        "ordered_at": datetime(2026, 3, 14, 9, 30),
        "amount": Decimal("1290.00"),
        "currency": settings.currency,
        "products": ["Trail running shoes"],
    }
    context["campaign"] = {"id": "sample", "name": "sample", "channel": channel}
    return context
