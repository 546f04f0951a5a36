"""Django admin for staff who run the catalog."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog.models import Category, Product


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
    list_display = ("name", "slug", "parent", "updated_at")
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "category", "price", "currency", "stock_quantity", "is_active", "updated_at")
    list_select_related = ("category",)
    list_filter = ("is_active", StockLevelFilter, "category", "currency")
    search_fields = ("sku", "name")
    autocomplete_fields = ("category",)
    readonly_fields = ("id", "created_at", "updated_at")
    list_per_page = 50
    ordering = ("name", "id")
