"""What imported rows refer to: other rows that must be stored before them.

An order names its customer, an order item its order. A row whose reference is not stored is
rejected with the reference's reason (set-based: one anti-join per reference, see
:func:`segmentum.ingest.importer.import_file`; on PostgreSQL the file's distinct values are
looked up there, :func:`segmentum.ingest.postgres.known_keys`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Tables whose rows name a customer that must exist (or be created).
CUSTOMER_TABLES = ("orders", "returns", "events", "subscriptions")


@dataclass(frozen=True)
class Reference:
    """Rows naming a ``column`` value that must be stored in ``target`` (the same column);
    a row whose value is not is rejected with ``reason``. NULL is left to
    ``missing_required``."""

    column: str
    target: str
    reason: str


#: What the rows of each table refer to. Customers may be created instead
#: (``--create-customers``); orders never are: an item of an order that is not stored (in the
#: workspace, or loaded before by an orders import) is rejected, so that item sums, product
#: segments and reports never count lines of an order no one placed.
REFERENCES: Mapping[str, tuple[Reference, ...]] = {
    **{
        table: (Reference("customer_id", "customers", "unknown_customer"),)
        for table in CUSTOMER_TABLES
    },
    "order_items": (Reference("order_id", "orders", "unknown_order"),),
    # a return's order is optional; when it is given it must be stored, as an item's
    "returns": (
        Reference("customer_id", "customers", "unknown_customer"),
        Reference("order_id", "orders", "unknown_order"),
    ),
}
