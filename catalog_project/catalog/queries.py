"""Read side of the catalog (CQRS queries): every read the API serves, batched and indexed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from common.pagination import Page, SortKey, paginate
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from catalog.models import Category, Product, ProductStockActivity

MAX_PAGE_SIZE = 100


class ProductOrder(Enum):
    NAME_ASC = (SortKey("name"), SortKey("id"))
    NAME_DESC = (SortKey("name", descending=True), SortKey("id", descending=True))
    PRICE_ASC = (SortKey("price"), SortKey("id"))
    PRICE_DESC = (SortKey("price", descending=True), SortKey("id", descending=True))
    NEWEST = (SortKey("created_at", descending=True), SortKey("id", descending=True))
    OLDEST = (SortKey("created_at"), SortKey("id"))


@dataclass(frozen=True)
class ProductFilter:
    search: str | None = None
    category_id: uuid.UUID | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    is_active: bool | None = None


def _as_uuids(ids: Iterable[Any]) -> list[uuid.UUID]:
    parsed = []
    for value in ids:
        try:
            parsed.append(uuid.UUID(str(value)))
        except (TypeError, ValueError):
            continue  # an id that is not a UUID names no row
    return parsed


def get_product(product_id: Any) -> Product | None:
    ids = _as_uuids([product_id])
    return Product.objects.select_related("category").filter(pk=ids[0]).first() if ids else None


def get_product_by_sku(sku: str) -> Product | None:
    return Product.objects.select_related("category").filter(sku=sku).first()


def products_by_ids(ids: Iterable[Any]) -> dict[str, Product]:
    """All the given products in one query, keyed by their id as a string."""
    uuids = _as_uuids(ids)
    return {str(p.pk): p for p in Product.objects.select_related("category").filter(pk__in=uuids)} if uuids else {}


def categories_by_ids(ids: Iterable[Any]) -> dict[str, Category]:
    uuids = _as_uuids(ids)
    return {str(c.pk): c for c in Category.objects.select_related("parent").filter(pk__in=uuids)} if uuids else {}


def get_category(category_id: Any) -> Category | None:
    return categories_by_ids([category_id]).get(str(category_id))


def list_categories() -> QuerySet[Category]:
    return Category.objects.select_related("parent").prefetch_related("children").order_by("name", "id")


def category_with_descendants(category_id: uuid.UUID) -> list[uuid.UUID]:
    """A category and everything below it (the tree is small: one query, walked in memory)."""
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, stack = [], [category_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def filtered_products(product_filter: ProductFilter) -> QuerySet[Product]:
    queryset = Product.objects.all()
    f = product_filter
    if f.search:
        term = f.search.strip()
        queryset = queryset.filter(Q(name__icontains=term) | Q(sku__icontains=term))
    if f.category_id is not None:
        queryset = queryset.filter(category_id__in=category_with_descendants(f.category_id))
    if f.min_price is not None:
        queryset = queryset.filter(price__gte=f.min_price)
    if f.max_price is not None:
        queryset = queryset.filter(price__lte=f.max_price)
    if f.in_stock is True:
        queryset = queryset.filter(stock_quantity__gt=0)
    elif f.in_stock is False:
        queryset = queryset.filter(stock_quantity=0)
    if f.is_active is not None:
        queryset = queryset.filter(is_active=f.is_active)
    return queryset


def product_page(
    *, product_filter: ProductFilter, order: ProductOrder, first: int, after: str | None
) -> tuple[Page, QuerySet[Product]]:
    """A page of products and the filtered queryset (for a lazy total count)."""
    queryset = filtered_products(product_filter)
    page = paginate(queryset.select_related("category"), keys=list(order.value), first=first, after=after)
    return page, queryset


# --- read model (ProductStockActivity, built from events) ---------------------------------------


def with_stock_activity(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """Products annotated with their stock movements (adjustments, units added/removed), one query."""
    activity = ProductStockActivity.objects.filter(product_id=OuterRef("pk"))
    return queryset.annotate(
        stock_adjustments=Coalesce(Subquery(activity.values("adjustments")[:1]), 0),
        units_added=Coalesce(Subquery(activity.values("units_added")[:1]), 0),
        units_removed=Coalesce(Subquery(activity.values("units_removed")[:1]), 0),
    )


def with_stock_summary(queryset: QuerySet[Category]) -> QuerySet[Category]:
    """Categories annotated with their product count and units in stock (direct products only)."""
    in_category = ProductStockActivity.objects.filter(category_id=OuterRef("pk")).order_by().values("category_id")
    return queryset.annotate(
        product_count=Coalesce(
            Subquery(in_category.annotate(n=Count("*")).values("n"), output_field=IntegerField()), 0
        ),
        units_in_stock=Coalesce(
            Subquery(in_category.annotate(n=Sum("stock_quantity")).values("n"), output_field=IntegerField()), 0
        ),
    )
