"""What orders publishes and what it reads: topics, event types, payloads (docs/contracts.md)."""

from __future__ import annotations

from typing import Any

from orders.models import Order, OrderEvent

ORDER_TOPIC = "orders.order"
ORDER_PLACED = "orders.order.placed"


def order_event_type(status: str) -> str:
    """`orders.order.confirmed` for CONFIRMED, and so on for every later status."""
    return f"{ORDER_TOPIC}.{status.lower()}"


# What orders consumes.
PRODUCT_UPSERTS = ("catalog.product.created", "catalog.product.updated", "catalog.product.stock_adjusted")
PRODUCT_DELETED = "catalog.product.deleted"
STOCK_RESERVED = "catalog.stock.reserved"
STOCK_REJECTED = "catalog.stock.rejected"
CART_EVENTS = tuple(
    f"cart.cart.{what}" for what in ("item_added", "item_updated", "item_removed", "cleared", "merged", "checked_out")
)
ORDER_TRANSITIONS = tuple(order_event_type(s) for s in ("CONFIRMED", "REJECTED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"))


def line_payload(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "product_id": str(line.product_id),
            "sku": line.sku,
            "name": line.product_name,
            "quantity": line.quantity,
            "unit_price": str(line.unit_price),
            "line_total": str(line.line_total),
        }
        for line in order.lines.all()
    ]


def placed_payload(order: Order, history: OrderEvent) -> dict[str, Any]:
    return {
        "order_id": str(order.pk),
        "user_id": str(order.user_id),
        "cart_id": order.cart_id,
        "cart_version": order.cart_version,
        "status": order.status,
        "currency": order.currency,
        "total": str(order.total),
        "items": line_payload(order),
        "shipping_address": order.shipping_address,
        "created_at": order.created_at.isoformat(),
        "actor": history.actor,
        "reason": history.reason,
    }


def transition_payload(order: Order, history: OrderEvent) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "order_id": str(order.pk),
        "user_id": str(order.user_id),
        "from_status": history.from_status,
        "to_status": history.to_status,
        "actor": history.actor,
        "reason": history.reason,
        "at": history.at.isoformat(),
    }
    if history.to_status in ("CANCELLED", "REJECTED"):
        # The catalog releases exactly what it reserved for the order; items say what was asked.
        payload["items"] = [{"product_id": line["product_id"], "quantity": line["quantity"]} for line in line_payload(order)]
    return payload
