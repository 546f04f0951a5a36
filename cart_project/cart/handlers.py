"""What the cart consumes. Each handler runs in a Redis MULTI/EXEC together with its
"already applied" marker (common.events.redis_processing): redelivery has no second effect.

* `catalog.product.*` -> the product read model (upsert; `deleted` keeps a tombstone so lines
  of a deleted product stay and show `available: false`). An event older than what is held
  (by the catalog's `updated_at`) changes nothing.
* `orders.order.placed` -> the cart drops exactly the lines and quantities the order took
  (never more than it holds now, so a line added after checkout stays) and records
  `cart.cart.checked_out`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from common.events.envelope import Envelope
from common.events.redis_processing import handles_in_redis

from cart import events, store
from cart.model import Cart, Product

logger = logging.getLogger(__name__)

PRODUCT_UPSERTS = ("catalog.product.created", "catalog.product.updated", "catalog.product.stock_adjusted")
PRODUCT_DELETED = "catalog.product.deleted"
ORDER_PLACED = "orders.order.placed"


@handles_in_redis(*PRODUCT_UPSERTS, PRODUCT_DELETED)
def on_product_event(event: Envelope, pipe: Any) -> None:
    product = Product.from_event_payload({"id": event.aggregate_id, **event.payload},
                                         deleted=event.event_type == PRODUCT_DELETED)
    key = store.product_key(product.id)
    pipe.watch(key)
    held = pipe.hget(key, "updated_at")
    if held and product.updated_at and product.updated_at < held:
        logger.info("cart: ignoring %s for %s, older than the read model", event.event_type, product.id)
        return
    pipe.multi()
    pipe.hset(key, mapping=product.to_hash())


@handles_in_redis(ORDER_PLACED)
def on_order_placed(event: Envelope, pipe: Any) -> None:
    payload = event.payload
    cart_id = str(payload.get("cart_id") or "")
    if not cart_id:
        return
    key = store.cart_key(cart_id)
    pipe.watch(key)
    cart = Cart.from_hash(cart_id, pipe.hgetall(key))
    if cart is None:
        logger.info("cart: order %s placed from cart %s, which is gone", payload.get("order_id"), cart_id)
        return
    if (cart.user_id or None) != (str(payload["user_id"]) if payload.get("user_id") else None):
        logger.warning("cart: order %s names cart %s of another owner; ignored", payload.get("order_id"), cart_id)
        return
    taken: dict[str, int] = {}
    for item in payload.get("items") or []:
        taken[str(item["product_id"])] = taken.get(str(item["product_id"]), 0) + int(item["quantity"])
    remaining = cart
    for product_id, quantity in taken.items():
        held = remaining.quantity_of(product_id)
        if held:
            remaining = replace(remaining, items=remaining.with_quantity(product_id, held - min(held, quantity)))
    updated = cart.changed(remaining.items)
    pipe.multi()
    pipe.hset(key, mapping=updated.to_hash())
    events.record(pipe, events.CHECKED_OUT, updated, order_id=str(payload.get("order_id", "")))
