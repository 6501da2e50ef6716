"""The ``last_order`` template field: each recipient's latest order (by ``ordered_at``, then
``order_id``) with the names of its products, for campaign and automation messages alike."""

from __future__ import annotations

import ibis

from segmentum.service.workspace import Workspace

#: The template name of the field (its attributes: ``campaigns.templates.LAST_ORDER_FIELDS``).
LAST_ORDER = "last_order"


def last_orders(ws: Workspace, wanted: ibis.Table | None = None) -> ibis.Table:
    """``customer_id`` and the ``last_order`` struct of every customer with an order, or only
    of the customers in ``wanted`` (a table with their ids as ``_id``: an automation's few
    recipients need not rank every order of the shop)."""
    read = ws.tables_named("orders", "order_items", "products")
    orders = read["orders"]
    if wanted is not None:
        orders = orders.semi_join(wanted, orders.customer_id == wanted._id)
    ranked = orders.mutate(
        _rank=ibis.row_number().over(
            group_by=orders.customer_id,
            order_by=[ibis.desc(orders.ordered_at), ibis.desc(orders.order_id)],
        )
    )
    last = ranked.filter(ranked._rank == 0)
    items = read["order_items"]
    products = read["products"]
    names = (
        items.join(last.select("order_id"), "order_id")
        .left_join(products, items.product_id == products.product_id)
        .group_by(items.order_id)
        .aggregate(products=ibis._["name"].collect(order_by=ibis._["name"]))
    )
    joined = last.left_join(names, last.order_id == names.order_id)
    return joined.select(
        customer_id=last.customer_id,
        **{
            LAST_ORDER: ibis.struct(
                {
                    "order_id": last.order_id,
                    "number": last.order_id,
                    "date": last.local_date,
                    "ordered_at": last.ordered_at,
                    "amount": last.amount,
                    "currency": last.currency,
                    "products": names.products,
                }
            )
        },
    )


def with_last_order(
    ws: Workspace, recipients: ibis.Table, wanted: ibis.Table | None = None
) -> ibis.Table:
    """``recipients`` (one row per customer, with ``customer_id``) and their ``last_order``
    (null for a customer without orders)."""
    last = last_orders(ws, wanted)
    full = recipients.left_join(last, recipients.customer_id == last.customer_id)
    return full.select(recipients, full[LAST_ORDER])
