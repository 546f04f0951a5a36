"""Every row lock the orders commands take, in one place (so the lock order is the same everywhere).

Order rows are locked one at a time (a command changes one order); several orders, if ever,
in primary-key order. Placing an order serialises on (user, idempotency key) with a
transaction-level advisory lock, so concurrent retries of one checkout queue up behind the first.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

from common.errors import NotFound
from django.db import connection

from orders.models import Order


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def lock_order(order_id: Any, *, owner_id: Any = None) -> Order:
    """The order, locked FOR UPDATE; NOT_FOUND when it does not exist or (with `owner_id`) is someone else's."""
    pk = _as_uuid(order_id)
    queryset = Order.objects.select_for_update().filter(pk=pk) if pk else Order.objects.none()
    if owner_id is not None:
        queryset = queryset.filter(user_id=owner_id)
    order = queryset.first()
    if order is None:
        raise NotFound("Order not found.", id=str(order_id))
    return order


def lock_orders(order_ids: Iterable[uuid.UUID]) -> list[Order]:
    """Several orders locked in primary-key order (skips those another transaction holds)."""
    return list(Order.objects.select_for_update(skip_locked=True).filter(pk__in=list(order_ids)).order_by("pk"))


def lock_checkout(user_id: Any, idempotency_key: str) -> None:
    """Serialise placements of one (user, idempotency key) until the transaction ends."""
    digest = hashlib.blake2b(f"{user_id}:{idempotency_key}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
