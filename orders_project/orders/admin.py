"""Django admin for order staff: look at orders, their lines and history, and the read models.

Everything is read-only here: a status change must go through orders/commands.py so that it
writes its history row and publishes its event (the saga and the read models depend on them).
"""

from __future__ import annotations

from common.read_only_admin import ReadOnlyAdmin
from django.contrib import admin

from orders.models import CartReplica, Order, OrderEvent, OrderLine, OrderSummary, ProductReplica


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


class LineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("position", "sku", "product_name", "unit_price", "quantity", "line_total", "product_id")


class HistoryInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("at", "from_status", "to_status", "actor", "reason")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "user_id", "total", "currency", "shipping_country", "created_at", "updated_at")
    list_filter = ("status", "currency", "shipping_country")
    search_fields = ("=id", "=user_id", "idempotency_key", "shipping_name")
    date_hierarchy = "created_at"
    inlines = [LineInline, HistoryInline]
    list_per_page = 50


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "status", "user_id", "total", "currency", "created_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("=order_id", "=user_id")


@admin.register(ProductReplica)
class ProductReplicaAdmin(ReadOnlyAdmin):
    list_display = ("sku", "name", "price", "currency", "is_active", "is_deleted", "last_event_at")
    search_fields = ("sku", "name")


@admin.register(CartReplica)
class CartReplicaAdmin(ReadOnlyAdmin):
    list_display = ("cart_id", "user_id", "version", "updated_at")
    search_fields = ("=cart_id", "=user_id")
