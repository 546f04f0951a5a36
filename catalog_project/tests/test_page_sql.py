"""Product pages run the ORM's compiled SQL, kept per page key: the rows must be exactly the ORM's, for
every order, filter and cursor, and a category filter (whose SQL depends on the tree) is never kept."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from catalog import cache, queries
from catalog.models import Category, Product
from common.pagination import paginate

pytestmark = pytest.mark.django_db


def _orm_page(product_filter: queries.ProductFilter, order: queries.ProductOrder, first: int, after: str | None) -> Any:
    rows = queries.filtered_products(product_filter).values_list(*cache.PRODUCT_FIELDS, named=True)
    return paginate(rows, keys=list(order.value), first=first, after=after)


@pytest.fixture
def products(make_product: Any, category: Category) -> None:
    child = Category.objects.create(name="Child", slug="child", parent=category)
    for n in range(12):
        make_product(name=f"Item {n % 5}", price=Decimal(5 + n % 3), stock_quantity=n % 4,
                     category=child if n % 2 else category, is_active=n != 7)


FILTERS = {
    "default": queries.ProductFilter(is_active=True),
    "everything": queries.ProductFilter(),
    "search": queries.ProductFilter(search="item 3", is_active=True),
    "prices": queries.ProductFilter(min_price=Decimal("6"), max_price=Decimal("7"), is_active=True),
    "out of stock": queries.ProductFilter(in_stock=False),
}


@pytest.mark.parametrize("order", list(queries.ProductOrder), ids=lambda o: o.name)
@pytest.mark.parametrize("name", list(FILTERS))
def test_pages_are_the_orms_pages(products: None, order: queries.ProductOrder, name: str, settings: Any) -> None:
    settings.CACHE_DATA_ENABLED = False
    product_filter = FILTERS[name]
    after = None
    for _ in range(2):  # every page, twice (the second time from the kept SQL)
        after = None
        while True:
            expected = _orm_page(product_filter, order, 4, after)
            page = queries.product_page(product_filter=product_filter, order=order, first=4, after=after)
            assert [cache.product_row(p) for p in page.items] == [tuple(r) for r in expected.items]
            assert (page.cursors, page.has_next_page, page.has_previous_page) == (
                expected.cursors, expected.has_next_page, expected.has_previous_page)
            if not page.has_next_page:
                break
            after = page.cursors[-1]


def test_the_sql_is_compiled_once_per_page_but_never_kept_for_a_category(
        products: None, category: Category, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.CACHE_DATA_ENABLED = False
    compiled: list[int] = []
    real = queries.page_queryset

    def counting(*args: Any, **kwargs: Any) -> Any:
        compiled.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(queries, "page_queryset", counting)
    queries._PAGE_SQL.clear()
    args = {"order": queries.ProductOrder.PRICE_DESC, "first": 3, "after": None}
    for _ in range(3):
        queries.product_page(product_filter=queries.ProductFilter(is_active=True), **args)
    assert len(compiled) == 1
    by_category = queries.ProductFilter(category_id=category.pk, is_active=True)
    first = queries.product_page(product_filter=by_category, **args)
    assert len(compiled) == 2
    # A new subcategory changes which ids the filter names: the next read sees its products.
    grandchild = Category.objects.create(name="Grandchild", slug="grandchild", parent=category)
    Product.objects.create(sku="SKU-EXPENSIVE", name="Expensive", price=Decimal("999"), stock_quantity=1,
                           category=grandchild)
    again = queries.product_page(product_filter=by_category, **args)
    assert len(compiled) == 3
    assert again.items[0].sku == "SKU-EXPENSIVE" and first.items[0].sku != "SKU-EXPENSIVE"
