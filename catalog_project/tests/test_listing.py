"""Cursor pagination, ordering, search and filters of `products`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from catalog.models import Category

pytestmark = pytest.mark.django_db

PAGE = """
query($first: Int, $after: String, $orderBy: ProductOrderBy, $filter: ProductFilterInput) {
  products(first: $first, after: $after, orderBy: $orderBy, filter: $filter) {
    totalCount
    edges { cursor node { id sku name price { amount } stockQuantity } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def walk(gql, order_by, first, filter=None):
    seen, after, pages = [], None, 0
    while True:
        page = gql.data(PAGE, {"first": first, "after": after, "orderBy": order_by, "filter": filter})["products"]
        seen.extend(edge["node"] for edge in page["edges"])
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            return seen, pages
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]


@pytest.mark.parametrize(
    ("order_by", "key", "reverse"),
    [
        ("NAME_ASC", lambda p: (p["name"], p["id"]), False),
        ("NAME_DESC", lambda p: (p["name"], p["id"]), True),
        ("PRICE_ASC", lambda p: (Decimal(p["price"]["amount"]), p["id"]), False),
        ("PRICE_DESC", lambda p: (Decimal(p["price"]["amount"]), p["id"]), True),
    ],
)
def test_pages_cover_everything_once_in_order(gql, make_product, order_by, key, reverse):
    # Duplicate names and prices make the id tie-breaker matter.
    for i in range(23):
        make_product(name=f"Item {i % 5}", price=Decimal(i % 4))
    seen, pages = walk(gql, order_by, first=4)
    assert pages == 6
    assert len(seen) == 23
    assert len({p["id"] for p in seen}) == 23
    assert seen == sorted(seen, key=key, reverse=reverse)


def test_newest_and_oldest(gql, make_product):
    made = [make_product() for _ in range(5)]
    newest, _ = walk(gql, "NEWEST", first=2)
    assert [p["sku"] for p in newest] == [p.sku for p in reversed(made)]
    oldest, _ = walk(gql, "OLDEST", first=3)
    assert [p["sku"] for p in oldest] == [p.sku for p in made]


def test_pagination_is_stable_when_rows_are_inserted_between_pages(gql, make_product):
    for i in range(6):
        make_product(name=f"B{i}")
    first_page = gql.data(PAGE, {"first": 3, "orderBy": "NAME_ASC"})["products"]
    make_product(name="A-new")  # sorts before everything already seen
    second = gql.data(PAGE, {"first": 3, "after": first_page["pageInfo"]["endCursor"], "orderBy": "NAME_ASC"})
    names = [e["node"]["name"] for e in first_page["edges"] + second["products"]["edges"]]
    assert names == ["B0", "B1", "B2", "B3", "B4", "B5"]


def test_total_count_counts_all_matches(gql, make_product):
    for _ in range(7):
        make_product()
    page = gql.data(PAGE, {"first": 2})["products"]
    assert page["totalCount"] == 7
    assert len(page["edges"]) == 2


@pytest.mark.parametrize("first", [0, -1, 101])
def test_page_size_is_bounded(gql, first):
    error = gql.error(PAGE, {"first": first})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "first" in error["extensions"]["fields"]


@pytest.mark.parametrize("cursor", ["garbage", "WyJ4Il0", "W10"])
def test_bad_cursor_is_bad_input(gql, make_product, cursor):
    make_product()
    error = gql.error(PAGE, {"first": 2, "after": cursor, "orderBy": "PRICE_ASC"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_search_matches_name_or_sku_case_insensitively(gql, make_product):
    make_product(name="Brass Desk Lamp", sku="LMP-1")
    make_product(name="Chair", sku="LAMPSHADE-2")
    make_product(name="Table", sku="TBL-3")
    found = gql.data(PAGE, {"first": 10, "filter": {"search": "lamp"}})["products"]
    assert sorted(e["node"]["sku"] for e in found["edges"]) == ["LAMPSHADE-2", "LMP-1"]
    assert found["totalCount"] == 2


def test_filters_combine(gql, make_product, category):
    other = Category.objects.create(name="Garden", slug="garden")
    sub = Category.objects.create(name="Lamps", slug="lamps", parent=category)
    make_product(sku="CHEAP", price=Decimal("5"), stock_quantity=0)
    make_product(sku="MID", price=Decimal("50"), stock_quantity=3)
    make_product(sku="SUB", price=Decimal("60"), stock_quantity=3, category=sub)
    make_product(sku="DEAR", price=Decimal("500"), stock_quantity=3)
    make_product(sku="GARDEN", price=Decimal("50"), stock_quantity=3, category=other)
    make_product(sku="HIDDEN", price=Decimal("50"), stock_quantity=3, is_active=False)

    def skus(filter):
        page = gql.data(PAGE, {"first": 50, "filter": filter, "orderBy": "PRICE_ASC"})["products"]
        return [e["node"]["sku"] for e in page["edges"]]

    assert skus({"categoryId": str(category.pk), "isActive": True}) == ["CHEAP", "MID", "SUB", "DEAR"]
    assert skus({"categoryId": str(sub.pk)}) == ["SUB"]
    in_range = skus({"minPrice": "10", "maxPrice": "100", "isActive": True})
    assert set(in_range[:2]) == {"MID", "GARDEN"}  # equal prices: order between them is by id
    assert in_range[2:] == ["SUB"]
    assert skus({"inStock": False}) == ["CHEAP"]
    assert skus({"isActive": False}) == ["HIDDEN"]
    assert set(skus({"inStock": True, "maxPrice": "60", "categoryId": str(category.pk)})) == {"MID", "SUB"}
    both = {"inStock": True, "maxPrice": "60", "categoryId": str(category.pk), "isActive": None}
    assert set(skus(both)) == {"MID", "SUB", "HIDDEN"}


def test_public_lists_show_active_products_only(anon_gql, gql, tokens, make_product):
    make_product(sku="ON")
    make_product(sku="OFF", is_active=False)

    def listed(client, filter=None):
        body = client.data(PAGE, {"first": 10, "filter": filter})["products"]
        return sorted(e["node"]["sku"] for e in body["edges"]), body["totalCount"]

    assert listed(anon_gql) == (["ON"], 1)
    assert listed(anon_gql, {"isActive": True}) == (["ON"], 1)
    for hidden in (False, None):
        error = anon_gql.error(PAGE, {"first": 10, "filter": {"isActive": hidden}})
        assert error["extensions"]["code"] == "FORBIDDEN" and "catalog.view_product" in error["message"]
    customer = anon_gql.as_token(tokens.mint(roles=["customer"]).token)
    assert customer.error(PAGE, {"first": 10, "filter": {"isActive": False}})["extensions"]["code"] == "FORBIDDEN"
    # Staff with the permission (catalog managers hold view/change_product) may ask for them.
    assert listed(gql) == (["ON"], 1)
    assert listed(gql, {"isActive": False}) == (["OFF"], 1)
    assert listed(gql, {"isActive": None}) == (["OFF", "ON"], 2)
    viewer = anon_gql.as_token(tokens.mint(roles=["viewer"], perms=["catalog.view_product"]).token)
    assert listed(viewer, {"isActive": None}) == (["OFF", "ON"], 2)


def test_a_cursor_only_works_with_the_order_it_was_made_for(gql, make_product):
    for n in range(3):
        make_product(sku=f"CUR-{n}")
    page = gql.data(PAGE, {"first": 1, "orderBy": "NAME_ASC"})["products"]
    cursor = page["pageInfo"]["endCursor"]
    assert gql.data(PAGE, {"first": 1, "orderBy": "NAME_ASC", "after": cursor})["products"]["edges"]
    error = gql.error(PAGE, {"first": 1, "orderBy": "PRICE_DESC", "after": cursor})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert list(error["extensions"]["fields"]) == ["after"] and "orderBy" in error["extensions"]["fields"]["after"][0]


def test_inverted_price_range_is_bad_input(gql):
    error = gql.error(PAGE, {"first": 5, "filter": {"minPrice": "10", "maxPrice": "1"}})
    assert error["extensions"]["fields"] == {"minPrice": ["Must not exceed maxPrice."]}


def test_product_page_with_categories_uses_constant_queries(gql, make_product, category, django_assert_max_num_queries):
    # Layer 1 (batching), measured on the database path: inside the test transaction the cache
    # stays out of the way (see test_cache_invalidation for the warm-cache figures).
    sub = Category.objects.create(name="Lamps", slug="lamps", parent=category)
    for i in range(100):
        make_product(category=sub if i % 2 else category)
    nested = "stockQuantity category { name parent { name children { name } } children { slug } }"
    with django_assert_max_num_queries(3):  # page, category tree, count: nothing per row
        page = gql.data(PAGE.replace("stockQuantity", nested), {"first": 100})
    edges = page["products"]["edges"]
    assert len(edges) == 100
    assert page["products"]["totalCount"] == 100
    assert {e["node"]["category"]["name"] for e in edges} == {"Lighting", "Lamps"}
    lamps = next(e["node"]["category"] for e in edges if e["node"]["category"]["name"] == "Lamps")
    assert lamps["parent"] == {"name": "Lighting", "children": [{"name": "Lamps"}]}
