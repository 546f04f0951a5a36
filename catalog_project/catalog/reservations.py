"""The catalog side of the checkout saga: reserve an order's stock all-or-nothing, release it once.

    orders.order.placed     -> reserve_stock()   -> catalog.stock.reserved | catalog.stock.rejected
    orders.order.cancelled  -> release_stock()   -> catalog.stock.released (if anything was reserved)
    orders.order.rejected   -> release_stock()      (e.g. the order expired while stock was reserved)

A reservation is keyed by order id (StockReservation): doing any step twice has the effect of
doing it once. Products are locked in primary-key order (no deadlock between two reservations
sharing products), checked, then decremented through `save()` so the bridge records
catalog.product.updated for every read model; the check constraint keeps stock >= 0 whatever
happens. Not enough stock is a business answer: reserve_stock raises Conflict and the handler
records catalog.stock.rejected; it is never a handler failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from common.errors import Conflict, ValidationFailed
from common.events.outbox import record_event
from django.db import transaction

from catalog.models import Product, StockReservation

STOCK_TOPIC = "catalog.stock"
STOCK_RESERVED = "catalog.stock.reserved"
STOCK_REJECTED = "catalog.stock.rejected"
STOCK_RELEASED = "catalog.stock.released"

Line = tuple[uuid.UUID, int]


def parse_lines(items: Any) -> list[Line]:
    """(product id, quantity) per product from an order's items; a product listed twice is summed."""
    if not isinstance(items, list) or not items:
        raise ValidationFailed("An order without lines.", fields={"items": ["At least one line."]})
    quantities: dict[uuid.UUID, int] = {}
    for item in items:
        try:
            product_id = uuid.UUID(str(item["product_id"]))
            quantity = item["quantity"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed("An unreadable order line.", fields={"items": [str(item)[:200]]}) from exc
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise ValidationFailed("A line quantity must be a positive whole number.", fields={"items": [str(item)[:200]]})
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    return sorted(quantities.items())


def _lines_payload(lines: Iterable[Line]) -> list[dict[str, Any]]:
    return [{"product_id": str(product_id), "quantity": quantity} for product_id, quantity in lines]


def _locked_products(product_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Product]:
    # Primary-key order: two reservations over the same products always lock them in one order.
    return {p.pk: p for p in Product.objects.select_for_update().filter(pk__in=list(product_ids)).order_by("pk")}


def _locked_reservation(order_id: uuid.UUID) -> StockReservation | None:
    return StockReservation.objects.select_for_update().filter(pk=order_id).first()


@transaction.atomic
def reserve_stock(*, order_id: uuid.UUID, lines: list[Line]) -> StockReservation:
    """Take every line's units from stock, or none; Conflict(short=[...]) when some are missing.

    Idempotent: an order that has a reservation row already (reserved, rejected or released)
    gets that row back and nothing changes.
    """
    existing = _locked_reservation(order_id)
    if existing is not None:
        return existing
    products = _locked_products(product_id for product_id, _ in lines)
    short = []
    for product_id, quantity in lines:
        product = products.get(product_id)
        available = product.stock_quantity if product is not None and product.is_active else 0
        if available < quantity:
            short.append({"product_id": str(product_id), "requested": quantity, "available": available})
    if short:
        raise Conflict("Not enough stock.", short=short)
    for product_id, quantity in lines:
        product = products[product_id]
        product.stock_quantity -= quantity
        product.save(update_fields=["stock_quantity", "updated_at"])  # bridge: catalog.product.updated
    reservation = StockReservation.objects.create(
        order_id=order_id, status=StockReservation.Status.RESERVED, lines=_lines_payload(lines)
    )
    record_event(
        topic=STOCK_TOPIC,
        event_type=STOCK_RESERVED,
        aggregate_id=str(order_id),
        payload={"order_id": str(order_id), "lines": reservation.lines},
    )
    return reservation


@transaction.atomic
def reject_reservation(
    *, order_id: uuid.UUID, short: list[dict[str, Any]], reason: str = "insufficient_stock"
) -> StockReservation:
    """Record that nothing was reserved for the order, and say so (once)."""
    existing = _locked_reservation(order_id)
    if existing is not None:
        return existing
    reservation = StockReservation.objects.create(order_id=order_id, status=StockReservation.Status.REJECTED, lines=[])
    record_event(
        topic=STOCK_TOPIC,
        event_type=STOCK_REJECTED,
        aggregate_id=str(order_id),
        payload={"order_id": str(order_id), "reason": reason, "short": short},
    )
    return reservation


@transaction.atomic
def release_stock(*, order_id: uuid.UUID) -> StockReservation:
    """Give back exactly what was reserved for the order, once; later calls change nothing."""
    reservation = _locked_reservation(order_id)
    if reservation is None:
        # Released before any reservation was seen: remember it, so a late placement reserves nothing.
        reservation, _ = StockReservation.objects.get_or_create(
            order_id=order_id, defaults={"status": StockReservation.Status.RELEASED, "lines": []}
        )
        return reservation
    if reservation.status != StockReservation.Status.RESERVED:
        return reservation
    lines = [(uuid.UUID(line["product_id"]), int(line["quantity"])) for line in reservation.lines]
    products = _locked_products(product_id for product_id, _ in lines)
    for product_id, quantity in lines:
        product = products.get(product_id)
        if product is None:
            continue  # deleted since: nothing to give the units back to
        product.stock_quantity += quantity
        product.save(update_fields=["stock_quantity", "updated_at"])
    reservation.status = StockReservation.Status.RELEASED
    reservation.save(update_fields=["status", "updated_at"])
    record_event(
        topic=STOCK_TOPIC,
        event_type=STOCK_RELEASED,
        aggregate_id=str(order_id),
        payload={"order_id": str(order_id), "lines": reservation.lines},
    )
    return reservation
