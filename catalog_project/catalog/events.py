"""What the catalog publishes: topics, event types and payloads (schema version 1).

Every save or delete of a Product or Category records its event through the outbox bridge
(common.events.bridge), whoever makes the change: commands behind GraphQL, the admin, the
shell, data migrations. Commands that know more (a stock adjustment and its delta) describe
the change before saving; the bridge then records that event instead of a plain `updated`.

Payload builders read concrete fields only (they also run on historical models in migrations).
"""

from __future__ import annotations

from typing import Any

from common.events.bridge import ModelEvents, publish_model_events

PRODUCT_TOPIC = "catalog.product"
CATEGORY_TOPIC = "catalog.category"

PRODUCT_CREATED = "catalog.product.created"
PRODUCT_UPDATED = "catalog.product.updated"
PRODUCT_DELETED = "catalog.product.deleted"
# Payload: the product as after the adjustment, plus `delta` and `previous_quantity`.
PRODUCT_STOCK_ADJUSTED = "catalog.product.stock_adjusted"

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


def stock_adjustment_details(*, delta: int, previous_quantity: int) -> dict[str, int]:
    return {"delta": delta, "previous_quantity": previous_quantity}


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
