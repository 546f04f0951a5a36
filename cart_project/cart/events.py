"""The events the cart publishes (topic `cart.cart`, docs/contracts.md), queued in the same
MULTI/EXEC as the change through the Redis-stream outbox."""

from __future__ import annotations

from typing import Any

from common.events import redis_outbox

from cart import store
from cart.model import Cart

TOPIC = "cart.cart"
ITEM_ADDED = "cart.cart.item_added"
ITEM_UPDATED = "cart.cart.item_updated"
ITEM_REMOVED = "cart.cart.item_removed"
CLEARED = "cart.cart.cleared"
MERGED = "cart.cart.merged"
CHECKED_OUT = "cart.cart.checked_out"


def record(pipe: Any, event_type: str, cart: Cart, **change: Any) -> None:
    """Every payload is the cart's whole state after the change plus the change itself."""
    redis_outbox.record_event(
        pipe, stream=store.outbox_stream(), topic=TOPIC, event_type=event_type, aggregate_id=cart.id,
        payload={**cart.state(), **change},
    )
