"""Orders: the write model (Order, OrderLine, OrderEvent) and the read models fed by events.

Write side: an order, its lines snapshotted at placement and one history row per transition
(like Saleor's order events). Only commands (orders/commands.py) change these rows.

Read side (CQRS), built only from events (orders/handlers.py), no foreign keys, rebuilt by
`manage.py rebuild_read_models`:
  ProductReplica  the catalog's products as orders last heard of them (catalog.product.*)
  CartReplica     every cart's latest state (cart.cart.*, latest version wins)
  OrderSummary    one denormalised row per order (orders.order.*): serves myOrders / orders /
                  User.orders with one query per page.
"""

from __future__ import annotations

import uuid

from django.db import models


class OrderStatus(models.TextChoices):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The accounts user id (no foreign key: the user replica may lag behind a fresh token).
    user_id = models.UUIDField(db_index=True)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    idempotency_key = models.CharField(max_length=100)
    # The cart the order was placed from and the version of it that was read.
    cart_id = models.CharField(max_length=100)
    cart_version = models.PositiveIntegerField()
    # Sorted "product_id:quantity" of the cart read at placement: tells a retry from another cart.
    cart_fingerprint = models.CharField(max_length=64)
    shipping_name = models.CharField(max_length=200)
    shipping_line1 = models.CharField(max_length=200)
    shipping_line2 = models.CharField(max_length=200, blank=True, default="")
    shipping_city = models.CharField(max_length=100)
    shipping_postal_code = models.CharField(max_length=20)
    shipping_country = models.CharField(max_length=2)
    payment_reference = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("change_order_status", "Move orders through their statuses")]
        constraints = [
            models.UniqueConstraint(fields=["user_id", "idempotency_key"], name="order_user_idempotency_key"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_non_negative"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="order_status_created")]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.status})"

    @property
    def shipping_address(self) -> dict[str, str]:
        return {
            "name": self.shipping_name,
            "line1": self.shipping_line1,
            "line2": self.shipping_line2,
            "city": self.shipping_city,
            "postal_code": self.shipping_postal_code,
            "country": self.shipping_country,
        }


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    product_id = models.UUIDField()
    product_name = models.CharField(max_length=200)
    sku = models.CharField("SKU", max_length=64)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="order_line_position"),
            models.UniqueConstraint(fields=["order", "product_id"], name="order_line_product"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="order_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderEvent(models.Model):
    """One row per transition: who moved the order from which status to which, when and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16, choices=OrderStatus.choices, null=True, blank=True)
    to_status = models.CharField(max_length=16, choices=OrderStatus.choices)
    at = models.DateTimeField()
    # A user id, or the name of the system part that decided ("catalog", "expiry").
    actor = models.CharField(max_length=100)
    reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["order", "at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class ProductReplica(models.Model):
    product_id = models.UUIDField(primary_key=True)
    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    is_active = models.BooleanField(default=True)
    # catalog.product.deleted: kept (orders still name it) but no longer orderable.
    is_deleted = models.BooleanField(default=False)
    last_event_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    @property
    def orderable(self) -> bool:
        return self.is_active and not self.is_deleted


class CartReplica(models.Model):
    cart_id = models.CharField(max_length=100, primary_key=True)
    user_id = models.UUIDField(null=True, blank=True)
    version = models.PositiveIntegerField()
    items = models.JSONField(default=list)  # [{"product_id": str, "quantity": int}]
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user_id", "updated_at"], name="cart_replica_user")]

    def __str__(self) -> str:
        return f"cart {self.cart_id} v{self.version}"


class OrderSummary(models.Model):
    """Read model: an order as the lists show it, items and history inline (one row per order)."""

    order_id = models.UUIDField(primary_key=True)
    user_id = models.UUIDField()
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    items = models.JSONField(default=list)
    shipping_address = models.JSONField(default=dict)
    history = models.JSONField(default=list)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "order summaries"
        indexes = [
            models.Index(fields=["user_id", "-created_at", "-order_id"], name="summary_user_created"),
            models.Index(fields=["status", "-created_at", "-order_id"], name="summary_status_created"),
            models.Index(fields=["-created_at", "-order_id"], name="summary_created"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} ({self.status})"
