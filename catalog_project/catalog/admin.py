"""Django admin for staff who run the catalog."""

from __future__ import annotations

from typing import Any

from common.read_only_admin import ReadOnlyAdmin
from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog.models import Category, Product, StockReservation
from catalog.queries import with_stock_activity, with_stock_summary


class StockLevelFilter(admin.SimpleListFilter):
    title = "stock level"
    parameter_name = "stock"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        threshold = settings.CATALOG_LOW_STOCK_THRESHOLD
        return [("out", "Out of stock"), ("low", f"Low (1-{threshold})"), ("ok", f"Above {threshold}")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> QuerySet[Product]:
        threshold = settings.CATALOG_LOW_STOCK_THRESHOLD
        match self.value():
            case "out":
                return queryset.filter(stock_quantity=0)
            case "low":
                return queryset.filter(stock_quantity__gt=0, stock_quantity__lte=threshold)
            case "ok":
                return queryset.filter(stock_quantity__gt=threshold)
        return queryset


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent", "products", "units_in_stock", "updated_at")
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        # Counts come from the event-fed read model: no per-row queries, no scan of products.
        return with_stock_summary(super().get_queryset(request))

    @admin.display(description="products", ordering="product_count")
    def products(self, category: Category) -> int:
        return category.product_count

    @admin.display(description="units in stock", ordering="units_in_stock")
    def units_in_stock(self, category: Category) -> int:
        return category.units_in_stock


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "sku", "name", "category", "price", "currency", "stock_quantity", "stock_movements", "is_active", "updated_at"
    )
    list_select_related = ("category",)
    list_filter = ("is_active", StockLevelFilter, "category", "currency")
    search_fields = ("sku", "name")
    autocomplete_fields = ("category",)
    readonly_fields = ("id", "created_at", "updated_at")
    list_per_page = 50
    ordering = ("name", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return with_stock_activity(super().get_queryset(request))

    @admin.display(description="stock movements", ordering="stock_adjustments")
    def stock_movements(self, product: Product) -> str:
        # From the event-fed read model: the write model keeps only the current quantity.
        return f"+{product.units_added} / -{product.units_removed} ({product.stock_adjustments} adjustments)"


@admin.register(StockReservation)
class StockReservationAdmin(ReadOnlyAdmin):
    """What the checkout saga set aside per order; only the saga's handlers change these rows."""

    list_display = ("order_id", "status", "lines", "created_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("=order_id",)
