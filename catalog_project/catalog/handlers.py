"""What the catalog reacts to (CQRS read side): its own events feed ProductStockActivity.

Product state comes from the model-state events (`catalog.product.created/updated`), stock
movements from the domain event `catalog.stock.adjusted`. The two travel on different topics,
so either may arrive first: each handler touches only its own columns. Older streams hold
`catalog.product.stock_adjusted` (state and movement in one event): still understood.
"""

from __future__ import annotations

import uuid
from typing import Any

from common.events.envelope import Envelope
from common.events.handlers import handles
from django.db.models import F

from catalog import events
from catalog.models import ProductStockActivity


def reset_stock_activity() -> None:
    ProductStockActivity.objects.all().delete()


def _product_id(event: Envelope) -> uuid.UUID:
    try:
        return uuid.UUID(event.aggregate_id)
    except ValueError as exc:
        raise ValueError(f"{event.event_type}: aggregate_id {event.aggregate_id!r} is not a product id") from exc


def _field(payload: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"catalog.product payload: {name!r} missing or not {kind}")
    return value


def _product_state(payload: dict[str, Any]) -> dict[str, Any]:
    category_id = _field(payload, "category_id", (str, type(None)))
    return {
        "sku": _field(payload, "sku", str),
        "category_id": uuid.UUID(category_id) if category_id is not None else None,
        "is_active": _field(payload, "is_active", bool),
        "stock_quantity": _field(payload, "stock_quantity", int),
    }


def _upsert(product_id: uuid.UUID, state: dict[str, Any], increments: dict[str, int], *, new_row: dict[str, Any]) -> None:
    # One statement for a known product (the common case); a product's first event inserts its row.
    counters = {name: F(name) + amount for name, amount in increments.items()}
    if not ProductStockActivity.objects.filter(pk=product_id).update(**state, **counters):
        ProductStockActivity.objects.create(product_id=product_id, **{**new_row, **state}, **increments)


def _movement(delta: int) -> dict[str, int]:
    return {"adjustments": 1, "units_added": max(delta, 0), "units_removed": max(-delta, 0)}


@handles(events.PRODUCT_CREATED, events.PRODUCT_UPDATED, events.LEGACY_PRODUCT_STOCK_ADJUSTED, reset=reset_stock_activity)
def project_product(event: Envelope) -> None:
    """Keep the product's current state (once per event, see ProcessedEvent)."""
    product_id = _product_id(event)
    state: dict[str, Any] = {**_product_state(event.payload), "last_event_at": event.occurred_at}
    increments: dict[str, int] = {}
    if event.event_type == events.LEGACY_PRODUCT_STOCK_ADJUSTED:
        increments = _movement(_field(event.payload, "delta", int))
        state["last_adjusted_at"] = event.occurred_at
    _upsert(product_id, state, increments, new_row={})


@handles(events.STOCK_ADJUSTED, reset=reset_stock_activity)
def count_stock_adjustment(event: Envelope) -> None:
    """Count one stock movement. If it arrives before the product's first event, the row starts
    with what the adjustment knows; the product's events fill in the rest."""
    product_id = _product_id(event)
    _upsert(
        product_id,
        {"last_adjusted_at": event.occurred_at},
        _movement(_field(event.payload, "delta", int)),
        new_row={
            "sku": "",
            "stock_quantity": _field(event.payload, "stock_quantity", int),
            "last_event_at": event.occurred_at,
        },
    )


@handles(events.PRODUCT_DELETED, reset=reset_stock_activity)
def forget_product(event: Envelope) -> None:
    ProductStockActivity.objects.filter(pk=_product_id(event)).delete()
