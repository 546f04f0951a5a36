"""Category CRUD and the category tree."""

from __future__ import annotations

import pytest
from catalog.models import Category

pytestmark = pytest.mark.django_db


def test_category_round_trip(gql):
    top = gql.data('mutation { createCategory(input: {name: "Home & Garden"}) { category { id slug parent { id } } } }')
    top = top["createCategory"]["category"]
    assert top["slug"] == "home-garden"
    assert top["parent"] is None
    child = gql.data(
        'mutation($p: ID!) { createCategory(input: {name: "Lamps", parentId: $p}) { category { id parent { slug } } } }',
        {"p": top["id"]},
    )["createCategory"]["category"]
    assert child["parent"]["slug"] == "home-garden"

    renamed = gql.data(
        'mutation($id: ID!) { updateCategory(id: $id, input: {name: "Lights", slug: "lights"}) { category { name slug } } }',
        {"id": child["id"]},
    )["updateCategory"]["category"]
    assert renamed == {"name": "Lights", "slug": "lights"}

    tree = gql.data("{ categories { slug children { slug } } }")["categories"]
    assert {"slug": "home-garden", "children": [{"slug": "lights"}]} in tree

    moved = gql.data(
        'mutation($id: ID!) { updateCategory(id: $id, input: {parentId: null}) { category { parent { id } } } }',
        {"id": child["id"]},
    )
    assert moved["updateCategory"]["category"]["parent"] is None
    gql.data("mutation($id: ID!) { deleteCategory(id: $id) { deletedId } }", {"id": child["id"]})
    assert list(Category.objects.values_list("slug", flat=True)) == ["home-garden"]
    assert gql.data('query($id: ID!) { category(id: $id) { name } }', {"id": top["id"]})["category"]["name"] == "Home & Garden"


def test_categories_list_uses_constant_queries(gql, django_assert_max_num_queries):
    for i in range(10):
        parent = Category.objects.create(name=f"Top {i}", slug=f"top-{i}")
        Category.objects.create(name=f"Sub {i}", slug=f"sub-{i}", parent=parent)
    # Two queries: both trees in one would cost more than the request cost limit allows.
    with django_assert_max_num_queries(1):  # the whole tree in one query, linked in memory
        result = gql.data("{ categories { name parent { name children { name } } } }")
    assert len(result["categories"]) == 20
    sub = next(c for c in result["categories"] if c["name"] == "Sub 3")
    assert sub["parent"] == {"name": "Top 3", "children": [{"name": "Sub 3"}]}
    with django_assert_max_num_queries(1):
        result = gql.data("{ categories { name children { name parent { slug } } } }")
    top = next(c for c in result["categories"] if c["name"] == "Top 3")
    assert top["children"] == [{"name": "Sub 3", "parent": {"slug": "top-3"}}]
