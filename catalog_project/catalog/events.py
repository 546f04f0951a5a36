"""What the catalog publishes: topics, event types and payloads (schema version 1, docs/contracts.md).

Two kinds:
- model state: every save or delete of a Product or Category records `created`/`updated`/`deleted`
  with the row's new state through the outbox bridge (common.events.bridge), whoever makes the
  change: commands behind GraphQL, the admin, the shell, data migrations, bulk writes of the
  models' managers (`BridgedQuerySet`). Payload builders read concrete fields only (they also run
  on historical models in migrations).
- domain: what a command decided, recorded explicitly by that command in its transaction
  (`adjust_stock` -> `catalog.stock.adjusted`, next to the plain `catalog.product.updated`).
"""

from __future__ import annotations

from typing import Any

from common.events.bridge import ModelEvents, publish_model_events
from common.events.outbox import record_event

PRODUCT_TOPIC = "catalog.product"
CATEGORY_TOPIC = "catalog.category"
STOCK_TOPIC = "catalog.stock"

PRODUCT_CREATED = "catalog.product.created"
PRODUCT_UPDATED = "catalog.product.updated"
PRODUCT_DELETED = "catalog.product.deleted"
# No longer recorded (replaced by catalog.product.updated + catalog.stock.adjusted); older streams
# still hold it: the product as after the adjustment plus `delta` and `previous_quantity`.
LEGACY_PRODUCT_STOCK_ADJUSTED = "catalog.product.stock_adjusted"

# Domain: a manual stock adjustment, aggregate id = product id.
# Payload: {product_id, delta, previous_quantity, stock_quantity}.
STOCK_ADJUSTED = "catalog.stock.adjusted"

CATEGORY_CREATED = "catalog.category.created"
CATEGORY_UPDATED = "catalog.category.updated"
CATEGORY_DELETED = "catalog.category.deleted"


def _optional_id(value: Any) -> str | None:
    return str(value) if value is not None else None


def product_payload(product: Any) -> dict[str, Any]:
    return {
        "id": str(product.pk),
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": str(product.price),  # decimal as a string: no float rounding on the way
        "currency": product.currency,
        "stock_quantity": product.stock_quantity,
        "category_id": _optional_id(product.category_id),
        "is_active": product.is_active,
        "updated_at": product.updated_at.isoformat() if product.updated_at else None,
    }


def category_payload(category: Any) -> dict[str, Any]:
    return {
        "id": str(category.pk),
        "name": category.name,
        "slug": category.slug,
        "parent_id": _optional_id(category.parent_id),
    }


def record_stock_adjusted(*, product: Any, delta: int, previous_quantity: int) -> None:
    """`catalog.stock.adjusted`, in the adjusting command's transaction (after the product's save)."""
    record_event(
        topic=STOCK_TOPIC,
        event_type=STOCK_ADJUSTED,
        aggregate_id=str(product.pk),
        payload={
            "product_id": str(product.pk),
            "delta": delta,
            "previous_quantity": previous_quantity,
            "stock_quantity": product.stock_quantity,
        },
    )


def register() -> None:
    """Bridge the catalog models to the outbox (called once, from CatalogConfig.ready)."""
    publish_model_events(
        "catalog.product",
        ModelEvents(PRODUCT_TOPIC, PRODUCT_CREATED, PRODUCT_UPDATED, PRODUCT_DELETED, product_payload),
    )
    publish_model_events(
        "catalog.category",
        ModelEvents(CATEGORY_TOPIC, CATEGORY_CREATED, CATEGORY_UPDATED, CATEGORY_DELETED, category_payload),
    )
