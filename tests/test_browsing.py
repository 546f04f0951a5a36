"""Story, part 1: an anonymous visitor browses and searches the catalog through the gateway."""

from __future__ import annotations

PRODUCT_FIELDS = "id sku name description price { amount currency } inStock stockQuantity category { id name slug }"

PAGE = f"""
query Page($first: Int!, $after: String, $filter: ProductFilterInput, $orderBy: ProductOrderBy) {{
  products(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {{
    totalCount
    edges {{ cursor node {{ {PRODUCT_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""


def test_first_page_matches_the_subgraph(platform, gateway):
    variables = {"first": 20}
    through_gateway = gateway.data(PAGE, variables)
    direct = platform.subgraph("catalog").data(PAGE, variables)
    assert through_gateway == direct
    page = through_gateway["products"]
    assert len(page["edges"]) == 20
    assert page["totalCount"] >= 20
    names = [edge["node"]["name"] for edge in page["edges"]]
    assert names == sorted(names)  # NAME_ASC by default


def test_paging_with_cursors_visits_each_product_once(gateway):
    seen: list[str] = []
    after = None
    for _ in range(3):
        page = gateway.data(PAGE, {"first": 7, "after": after, "orderBy": "PRICE_ASC"})["products"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        assert page["pageInfo"]["hasNextPage"]
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 21


def test_search_finds_products_by_name_and_sku(gateway):
    some = gateway.data(PAGE, {"first": 1, "orderBy": "NEWEST"})["products"]["edges"][0]["node"]
    word = some["name"].split()[-1]
    found = gateway.data(PAGE, {"first": 100, "filter": {"search": word.lower()}})["products"]
    assert found["totalCount"] >= 1
    assert all(word.lower() in (e["node"]["name"] + e["node"]["sku"]).lower() for e in found["edges"])
    assert some["id"] in {e["node"]["id"] for e in found["edges"]} or found["totalCount"] > 100
    by_sku = gateway.data(PAGE, {"first": 5, "filter": {"search": some["sku"]}})["products"]
    assert some["id"] in {e["node"]["id"] for e in by_sku["edges"]}


def test_filters_by_category_and_price(gateway):
    categories = gateway.data("{ categories { id name parent { id } } }")["categories"]
    assert categories
    category = categories[0]
    page = gateway.data(PAGE, {"first": 50, "filter": {"categoryId": category["id"], "minPrice": "1", "maxPrice": "100000"}})
    for edge in page["products"]["edges"]:
        assert 1 <= float(edge["node"]["price"]["amount"]) <= 100000


def test_product_detail_by_id_and_by_sku(gateway):
    some = gateway.data(PAGE, {"first": 1})["products"]["edges"][0]["node"]
    by_id = gateway.data(f"query($id: ID!) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}", {"id": some["id"]})
    by_sku = gateway.data(f"query($sku: String!) {{ productBySku(sku: $sku) {{ {PRODUCT_FIELDS} }} }}", {"sku": some["sku"]})
    assert by_id["product"] == by_sku["productBySku"] == some


def test_unknown_product_is_null_not_an_error(gateway):
    body = gateway.execute('{ product(id: "00000000-0000-4000-8000-000000000000") { id } }')
    assert body == {"data": {"product": None}} or body["data"] == {"product": None}


def test_invalid_arguments_come_back_with_the_subgraph_code(gateway):
    error = gateway.error("{ products(first: 1000) { totalCount } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == {"first": ["Between 1 and 100."]}
