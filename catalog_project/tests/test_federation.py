"""Federation v2: the SDL the gateway composes and batched entity resolution."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Product { id sku category { name } }
    ... on Category { id slug }
  }
}
"""


def test_service_sdl_declares_federation_v2_keys(gql):
    sdl = gql.data("{ _service { sdl } }")["_service"]["sdl"]
    assert "specs.apollo.dev/federation/v2" in sdl
    assert re.search(r'type Product\s+@key\(fields: "id"\)', sdl)
    assert re.search(r'type Category\s+@key\(fields: "id"\)', sdl)


def test_lists_declare_their_size_for_the_gateway_cost_limit(gql):
    sdl = gql.data("{ _service { sdl } }")["_service"]["sdl"]
    assert '@listSize(slicingArguments: ["first"], sizedFields: ["edges"])' in sdl
    assert "categories: [Category!]! @listSize(assumedSize: 100)" in sdl
    assert "children: [Category!]! @listSize(assumedSize: 20)" in sdl


def test_entities_resolve_many_ids_in_one_query(gql, make_product, category, django_assert_num_queries):
    products = [make_product() for _ in range(40)]
    representations = [{"__typename": "Product", "id": str(p.pk)} for p in reversed(products)]
    representations.insert(3, {"__typename": "Product", "id": "00000000-0000-4000-8000-000000000000"})
    representations.append({"__typename": "Category", "id": str(category.pk)})
    with django_assert_num_queries(2):  # one per entity type, not one per id
        entities = gql.data(ENTITIES, {"representations": representations})["_entities"]
    assert len(entities) == 42
    assert entities[3] is None  # unknown ids resolve to null in their position
    assert [e["sku"] for e in entities[:3]] == [p.sku for p in reversed(products)][:3]
    assert entities[4]["sku"] == products[-4].sku
    assert entities[-1] == {"__typename": "Category", "id": str(category.pk), "slug": "lighting"}
    assert entities[0]["category"]["name"] == "Lighting"


def test_entities_for_100_products_take_one_query(gql, make_product, django_assert_num_queries):
    products = [make_product() for _ in range(100)]
    representations = [{"__typename": "Product", "id": str(p.pk)} for p in products]
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id sku price { amount } inStock } } }"
    with django_assert_num_queries(1):
        entities = gql.data(query, {"r": representations})["_entities"]
    assert [e["sku"] for e in entities] == [p.sku for p in products]


def test_entities_with_malformed_ids_are_null(gql):
    entities = gql.data(ENTITIES, {"representations": [{"__typename": "Product", "id": "nope"}]})["_entities"]
    assert entities == [None]
