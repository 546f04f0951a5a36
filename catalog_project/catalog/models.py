"""Catalog aggregates (categories, products with their stock) and the catalog's read model.

The aggregates are the write side: their saves and deletes publish events (catalog/events.py).
ProductStockActivity is a read model built only from those events (catalog/handlers.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from common.events.bridge import BridgedQuerySet, TransactionalSaveMixin
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper


class Category(TransactionalSaveMixin, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Bulk writes record their events; QuerySet.update() is refused (common.events.bridge).
    objects = BridgedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        indexes = [models.Index(fields=["name", "id"], name="category_name_id")]

    def __str__(self) -> str:
        return self.name


class Product(TransactionalSaveMixin, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    stock_quantity = models.IntegerField(default=0)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BridgedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_non_negative"),
            models.CheckConstraint(condition=models.Q(stock_quantity__gte=0), name="product_stock_non_negative"),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="product_currency_iso"),
        ]
        indexes = [
            # Keyset pagination for each sort order (the id breaks ties).
            models.Index(fields=["name", "id"], name="product_name_id"),
            models.Index(fields=["price", "id"], name="product_price_id"),
            models.Index(fields=["created_at", "id"], name="product_created_id"),
            # Case-insensitive substring search (`icontains` compiles to UPPER(col) LIKE UPPER(%s)).
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="product_name_trgm"),
            GinIndex(OpClass(Upper("sku"), name="gin_trgm_ops"), name="product_sku_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Product:
        instance = super().from_db(db, field_names, values)
        # The SKU as loaded: when a save changes it, caches keyed by the old SKU are invalidated too.
        instance.loaded_sku = instance.__dict__.get("sku")
        return instance

    @property
    def in_stock(self) -> bool:
        return self.stock_quantity > 0


class ProductStockActivity(models.Model):
    """Read model: each product's stock movements, built only from catalog.product events.

    The write model keeps the current quantity only; the history of adjustments exists in the
    events. No foreign keys: events may arrive before or after the rows they mention, and
    `manage.py rebuild_read_models` recreates this table from the topic.
    """

    product_id = models.UUIDField(primary_key=True)
    sku = models.CharField("SKU", max_length=64)
    category_id = models.UUIDField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    stock_quantity = models.IntegerField(default=0)
    adjustments = models.PositiveIntegerField(default=0)
    units_added = models.PositiveBigIntegerField(default=0)
    units_removed = models.PositiveBigIntegerField(default=0)
    last_adjusted_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "product stock activity"
        indexes = [models.Index(fields=["category_id"], name="stock_activity_category")]

    def __str__(self) -> str:
        return f"{self.sku}: +{self.units_added}/-{self.units_removed} in {self.adjustments} adjustment(s)"
