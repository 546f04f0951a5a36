"""The catalog's data cache: what is cached, which namespaces each value depends on, how values
are stored, and what invalidates them.

Namespaces (versions in Redis, see common.cache.namespaces):
- `product:<id>`   one product (by id, and in `_entities` batches)
- `sku:<sku>`      the product-by-SKU lookup (a SKU change bumps the old and the new SKU)
- `products`       every product list page and total count (any product write changes lists)
- `categories`     the category tree (and lists, whose category filter walks the tree)
- `all`            every value (bulk writes that bypass model signals bump it)

Invalidation is driven by model signals + `transaction.on_commit`, so it covers every write
made through the ORM: GraphQL commands, Django admin, the shell, management commands, and the
bulk writes of the bridged managers (`bulk_create`/`bulk_update`/`update_with_events` send the
bridge's `bulk_recorded`; plain `QuerySet.update()` is refused). Raw SQL sends nothing: call
`invalidate_everything()` after it (the TTL is the backstop).

Values are plain rows (tuples of the models' concrete field values), not pickled model
instances: small, fast to rebuild, and the model's field list is part of every kind, so a
deploy that changes the fields never reads values of the old shape.
"""

from __future__ import annotations

from typing import Any

from common.cache.keys import digest, key_part
from common.cache.namespaces import EVERYTHING, bump, invalidate_on_commit
from common.events.bridge import bulk_recorded
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.models import Category, Product

PRODUCT_FIELDS = tuple(field.attname for field in Product._meta.concrete_fields)
CATEGORY_FIELDS = tuple(field.attname for field in Category._meta.concrete_fields)
_SHAPE = digest(repr((PRODUCT_FIELDS, CATEGORY_FIELDS)), 4)

# Kinds of cached values (also the `kind` label of the hit/miss counters).
PRODUCT = f"product.{_SHAPE}"
PRODUCT_BY_SKU = f"product_by_sku.{_SHAPE}"
PRODUCT_PAGE = f"product_page.{_SHAPE}"
PRODUCT_COUNT = "product_count"
CATEGORY_TREE = f"category_tree.{_SHAPE}"

PRODUCTS = "products"
CATEGORIES = "categories"

ProductRow = tuple[Any, ...]
CategoryRow = tuple[Any, ...]


def product_namespace(product_id: Any) -> str:
    return f"product:{product_id}"


def sku_namespace(sku: str) -> str:
    return f"sku:{key_part(sku)}"


def product_row(product: Product) -> ProductRow:
    return tuple(getattr(product, name) for name in PRODUCT_FIELDS)


def product_from_row(row: ProductRow) -> Product:
    return Product.from_db(DEFAULT_DB_ALIAS, PRODUCT_FIELDS, row)


def category_from_row(row: CategoryRow) -> Category:
    return Category.from_db(DEFAULT_DB_ALIAS, CATEGORY_FIELDS, row)


@receiver(post_save, sender=Product, dispatch_uid="catalog.cache.product_saved")
@receiver(post_delete, sender=Product, dispatch_uid="catalog.cache.product_deleted")
def _product_changed(sender: type[Product], instance: Product, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    skus = {instance.sku, getattr(instance, "loaded_sku", None)} - {None}
    invalidate_on_commit(
        [product_namespace(instance.pk), *(sku_namespace(sku) for sku in sorted(skus)), PRODUCTS],
        entities=[("Product", str(instance.pk))],
        using=using,
    )


@receiver(post_save, sender=Category, dispatch_uid="catalog.cache.category_saved")
@receiver(post_delete, sender=Category, dispatch_uid="catalog.cache.category_deleted")
def _category_changed(sender: type[Category], instance: Category, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    invalidate_on_commit([CATEGORIES], entities=[("Category", str(instance.pk))], using=using)


@receiver(bulk_recorded, sender=Product, dispatch_uid="catalog.cache.products_bulk")
@receiver(bulk_recorded, sender=Category, dispatch_uid="catalog.cache.categories_bulk")
def _bulk_changed(sender: type[Any], **kwargs: Any) -> None:
    # One bump for the whole batch: cheaper than one per row, and bulk writes are rare.
    invalidate_on_commit([EVERYTHING, PRODUCTS, CATEGORIES])


def invalidate_everything() -> bool:
    """Drop every cached catalog value now: after writes that send no model signals."""
    return bump([EVERYTHING, PRODUCTS, CATEGORIES])
