"""What orders reacts to (docs/orders.md).

Read models (with a reset, rebuilt by `rebuild_read_models`): the product replica
(catalog.product.*), the cart replica (cart.cart.*) and the order summaries (orders.order.*,
this service's own events). Reactions (no reset, never replayed): the catalog's saga replies
move PENDING orders to CONFIRMED or REJECTED.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Any

from common.errors import Conflict
from common.events.envelope import Envelope
from common.events.handlers import handles
from django.utils.dateparse import parse_datetime

from orders import cart_wait, commands, events
from orders.models import CartReplica, OrderStatus, OrderSummary, ProductReplica

logger = logging.getLogger(__name__)


def _uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: {value!r} is not a UUID") from exc


# --- product replica -----------------------------------------------------------------------------


def reset_products() -> None:
    ProductReplica.objects.all().delete()


@handles(*events.PRODUCT_UPSERTS, reset=reset_products)
def upsert_product(event: Envelope) -> None:
    payload = event.payload
    ProductReplica.objects.update_or_create(
        product_id=_uuid(event.aggregate_id, "product id"),
        defaults={
            "sku": str(payload["sku"]),
            "name": str(payload["name"]),
            "price": Decimal(str(payload["price"])),
            "currency": str(payload["currency"]),
            "is_active": bool(payload.get("is_active", True)),
            "is_deleted": False,
            "last_event_at": event.occurred_at,
        },
    )


@handles(events.PRODUCT_DELETED, reset=reset_products)
def forget_product(event: Envelope) -> None:
    ProductReplica.objects.filter(pk=_uuid(event.aggregate_id, "product id")).update(
        is_deleted=True, last_event_at=event.occurred_at
    )


# --- cart replica --------------------------------------------------------------------------------


def reset_carts() -> None:
    CartReplica.objects.all().delete()


@handles(*events.CART_EVENTS, reset=reset_carts)
def replicate_cart(event: Envelope) -> None:
    """Every cart event carries the whole cart: keep the latest version (events may overtake)."""
    payload = event.payload
    version = int(payload["version"])
    user_id = payload.get("user_id")
    state = {
        "user_id": _uuid(user_id, "user_id") if user_id else None,
        "version": version,
        "items": [{"product_id": str(i["product_id"]), "quantity": int(i["quantity"])} for i in payload.get("items", [])],
        "updated_at": parse_datetime(str(payload.get("updated_at") or "")) or event.occurred_at,
    }
    cart_id = str(payload.get("cart_id") or event.aggregate_id)
    if not CartReplica.objects.filter(pk=cart_id, version__lt=version).update(**state):
        CartReplica.objects.get_or_create(cart_id=cart_id, defaults=state)
    if state["user_id"] is not None:
        cart_wait.notify_cart_changed(state["user_id"])  # delivered at commit: wakes a waiting placeOrder


# --- saga replies from the catalog ---------------------------------------------------------------


@handles(events.STOCK_RESERVED)
def on_stock_reserved(event: Envelope) -> None:
    try:
        commands.confirm_order(order_id=event.payload["order_id"])
    except Conflict as refused:
        # Too late (expired or cancelled meanwhile): the catalog releases the reservation when it
        # reads that order's rejected/cancelled event, which follows the placed one on the topic.
        logger.info("orders: reservation for %s ignored: %s", event.payload["order_id"], refused.message)


@handles(events.STOCK_REJECTED)
def on_stock_rejected(event: Envelope) -> None:
    short = event.payload.get("short") or []
    reason = str(event.payload.get("reason") or "out of stock")
    if short:
        reason = f"{reason}: " + ", ".join(f"{s['product_id']} ({s['available']}/{s['requested']})" for s in short)
    try:
        commands.reject_order(order_id=event.payload["order_id"], reason=reason[:200])
    except Conflict as refused:
        logger.info("orders: rejection for %s ignored: %s", event.payload["order_id"], refused.message)


# --- order summaries (this service's own events) -------------------------------------------------


def reset_summaries() -> None:
    OrderSummary.objects.all().delete()


def _history_entry(payload: dict[str, Any], at: str) -> dict[str, Any]:
    return {
        "from_status": payload.get("from_status"),
        "to_status": payload.get("to_status") or payload.get("status"),
        "at": at,
        "actor": payload.get("actor", ""),
        "reason": payload.get("reason", ""),
    }


@handles(events.ORDER_PLACED, reset=reset_summaries)
def summarise_placed(event: Envelope) -> None:
    payload = event.payload
    created_at = str(payload["created_at"])
    OrderSummary.objects.update_or_create(
        order_id=_uuid(payload["order_id"], "order_id"),
        defaults={
            "user_id": _uuid(payload["user_id"], "user_id"),
            "status": OrderStatus.PENDING,
            "currency": payload["currency"],
            "total": Decimal(str(payload["total"])),
            "items": payload["items"],
            "shipping_address": payload.get("shipping_address") or {},
            "history": [_history_entry({**payload, "from_status": None, "to_status": OrderStatus.PENDING}, created_at)],
            "created_at": parse_datetime(created_at),
            "updated_at": parse_datetime(created_at),
        },
    )


@handles(*events.ORDER_TRANSITIONS, reset=reset_summaries)
def summarise_transition(event: Envelope) -> None:
    payload = event.payload
    summary = OrderSummary.objects.select_for_update().filter(pk=_uuid(payload["order_id"], "order_id")).first()
    if summary is None:
        # Events of one order share a partition, so `placed` came first; without it (a topic
        # that lost its start) there is nothing to attach the transition to.
        logger.warning("orders: %s for unknown order %s", event.event_type, payload["order_id"])
        return
    summary.status = payload["to_status"]
    summary.updated_at = parse_datetime(str(payload["at"]))
    summary.history = [*summary.history, _history_entry(payload, str(payload["at"]))]
    summary.save(update_fields=["status", "updated_at", "history"])
