"""Read side of the catalog (CQRS queries): every read the API serves, batched, indexed and cached.

Reads go through the data cache (`catalog.cache`, `common.cache.readthrough`): a hit costs no
SQL, a miss costs the same queries as without the cache. Cached values are the same for every
caller, so a rule that makes data depend on who asks (e.g. inactive products for staff only)
must be applied to the filter BEFORE it becomes part of a cache key, or to the objects AFTER
they come out of the cache; never inside a `compute` function.
"""

from __future__ import annotations

import uuid
from collections import namedtuple
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from common.cache.readthrough import cached, cached_many
from common.pagination import Page, SortKey, page_from_rows, page_queryset
from django.db import connections
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from catalog import cache
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

    def cache_key(self) -> str:
        return repr(astuple(self))


def _as_uuids(ids: Iterable[Any]) -> list[uuid.UUID]:
    parsed = []
    for value in ids:
        try:
            parsed.append(uuid.UUID(str(value)))
        except (TypeError, ValueError):
            continue  # an id that is not a UUID names no row
    return parsed


# --- products by id / SKU --------------------------------------------------------------------


def _product_rows(ids: list[str]) -> dict[str, cache.ProductRow]:
    rows = Product.objects.filter(pk__in=ids).values_list(*cache.PRODUCT_FIELDS)
    return {str(row[0]): row for row in rows}


def products_by_ids(ids: Iterable[Any]) -> dict[str, Product]:
    """All the given products (one query for those not cached), keyed by their id as a string."""
    keys = [str(pk) for pk in _as_uuids(ids)]
    rows = cached_many(
        cache.PRODUCT, keys, namespaces=lambda pk: [cache.product_namespace(pk)], compute=_product_rows
    )
    return {pk: cache.product_from_row(row) for pk, row in rows.items() if row is not None}


def get_product(product_id: Any) -> Product | None:
    ids = _as_uuids([product_id])
    if not ids:
        return None
    pk = str(ids[0])
    row = cached(
        cache.PRODUCT, pk, namespaces=[cache.product_namespace(pk)], compute=lambda: _product_rows([pk]).get(pk)
    )
    return cache.product_from_row(row) if row is not None else None


def get_product_by_sku(sku: str) -> Product | None:
    def load() -> cache.ProductRow | None:
        return Product.objects.filter(sku=sku).values_list(*cache.PRODUCT_FIELDS).first()

    row = cached(cache.PRODUCT_BY_SKU, sku, namespaces=[cache.sku_namespace(sku)], compute=load)
    return cache.product_from_row(row) if row is not None else None


# --- categories ------------------------------------------------------------------------------


class CategoryTree:
    """Every category, linked to its parent and children in memory.

    The tree is small, so it is loaded (or read from the cache) whole: any category a response
    needs, at any nesting depth (`product.category.parent.children`...), costs no further query.
    """

    def __init__(self, rows: Iterable[cache.CategoryRow]) -> None:
        categories = [cache.category_from_row(row) for row in rows]
        categories.sort(key=lambda c: (c.name, str(c.pk)))
        self.ordered = categories
        self.by_id = {str(c.pk): c for c in categories}
        children: dict[Any, list[Category]] = {}
        for category in categories:
            children.setdefault(category.parent_id, []).append(category)
        parent_field = Category._meta.get_field("parent")
        for category in categories:
            parent_field.set_cached_value(category, self.by_id.get(str(category.parent_id)) if category.parent_id else None)
            _set_prefetched_children(category, children.get(category.pk, []))
        self._children = children

    def get(self, category_id: Any) -> Category | None:
        ids = _as_uuids([category_id])
        return self.by_id.get(str(ids[0])) if ids else None

    def by_ids(self, ids: Iterable[Any]) -> dict[str, Category]:
        return {str(pk): self.by_id[str(pk)] for pk in _as_uuids(ids) if str(pk) in self.by_id}

    def with_descendants(self, category_id: uuid.UUID) -> list[uuid.UUID]:
        found: list[uuid.UUID] = []
        stack = [category_id]
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.append(current)
            stack.extend(child.pk for child in self._children.get(current, []))
        return found


def _set_prefetched_children(category: Category, children: list[Category]) -> None:
    # What prefetch_related("children") leaves behind: `category.children.all()` costs no query.
    queryset = Category.objects.all()
    queryset._result_cache = children
    queryset._prefetch_done = True
    category._prefetched_objects_cache = {"children": queryset}


def category_tree() -> CategoryTree:
    """The whole tree; the built tree is also kept in process memory until the categories change
    (building it is the costly part of reading it)."""
    return cached(
        cache.CATEGORY_TREE,
        "all",
        namespaces=[cache.CATEGORIES],
        compute=lambda: list(Category.objects.values_list(*cache.CATEGORY_FIELDS)),
        build=CategoryTree,
    )


def categories_by_ids(ids: Iterable[Any]) -> dict[str, Category]:
    return category_tree().by_ids(ids)


def get_category(category_id: Any) -> Category | None:
    return category_tree().get(category_id)


def list_categories() -> list[Category]:
    return category_tree().ordered


def category_with_descendants(category_id: uuid.UUID) -> list[uuid.UUID]:
    """A category and everything below it."""
    return category_tree().with_descendants(category_id)


# --- product lists ---------------------------------------------------------------------------


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


# Lists depend on every product (any write can move a row in or out of a page) and on the
# category tree (the category filter includes subcategories).
LIST_NAMESPACES = [cache.PRODUCTS, cache.CATEGORIES]


# The compiled SQL of recent pages, by page key (filter, order, first, after): building the queryset and
# compiling it cost as much CPU as running the query (docs/performance.md §2). The SQL of a key never changes,
# except for category filters (the tree decides which ids they name): those are compiled every time.
_PAGE_SQL: dict[str, tuple[str, str, tuple[Any, ...]]] = {}
_PAGE_SQL_MAX = 512
_PageRow = namedtuple("_PageRow", cache.PRODUCT_FIELDS)


def _page_rows(product_filter: ProductFilter, order: ProductOrder, first: int, after: str | None, key: str) -> list[Any]:
    compiled = _PAGE_SQL.get(key)
    if compiled is None:
        queryset = page_queryset(filtered_products(product_filter).values_list(*cache.PRODUCT_FIELDS),
                                 keys=list(order.value), first=first, after=after)
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        if compiler.get_converters([column[0] for column in compiler.select]):
            # A field that converts database values (none today): the ORM reads the rows.
            return [_PageRow._make(row) for row in queryset]
        compiled = (queryset.db, sql, tuple(params))
        if product_filter.category_id is None:
            if len(_PAGE_SQL) >= _PAGE_SQL_MAX:
                _PAGE_SQL.clear()  # bounded; the default pages come back at once
            _PAGE_SQL[key] = compiled
    alias, sql, params = compiled
    # Through Django's cursor: the same execute wrappers (dependency recording, tracing, query logging).
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return [_PageRow._make(row) for row in cursor.fetchall()]


def product_page(*, product_filter: ProductFilter, order: ProductOrder, first: int, after: str | None) -> Page:
    """A page of products: `first` rows after the `after` cursor, in `order`."""
    key = f"{order.name}|{first}|{after or ''}|{product_filter.cache_key()}"

    def load() -> tuple[list[cache.ProductRow], list[str], bool, bool]:
        # Plain rows straight from the cursor (named, for the cursors' sort values): no model instance is
        # built only to be turned back into the cached row shape (docs/performance.md).
        rows = _page_rows(product_filter, order, first, after, key)
        page = page_from_rows(rows, keys=list(order.value), first=first, after=after)
        return [tuple(row) for row in page.items], page.cursors, page.has_next_page, page.has_previous_page

    rows, cursors, has_next, has_previous = cached(cache.PRODUCT_PAGE, key, namespaces=LIST_NAMESPACES, compute=load)
    items = [cache.product_from_row(row) for row in rows]
    return Page(items=items, cursors=cursors, has_next_page=has_next, has_previous_page=has_previous)


def count_products(product_filter: ProductFilter) -> int:
    return cached(
        cache.PRODUCT_COUNT,
        product_filter.cache_key(),
        namespaces=LIST_NAMESPACES,
        compute=lambda: filtered_products(product_filter).count(),
    )


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
