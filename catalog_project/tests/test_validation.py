"""Every bad input is a GraphQL error with a code and field details, and nothing is written."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from catalog.models import Category, Product

pytestmark = pytest.mark.django_db

CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }"
UPDATE = "mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { product { id } } }"
CREATE_CATEGORY = "mutation($input: CreateCategoryInput!) { createCategory(input: $input) { category { id slug } } }"
UPDATE_CATEGORY = (
    "mutation($id: ID!, $input: UpdateCategoryInput!) { updateCategory(id: $id, input: $input) { category { id } } }"
)
DELETE_CATEGORY = "mutation($id: ID!) { deleteCategory(id: $id) { deletedId } }"


def valid_input(**overrides):
    data = {"sku": "OK-1", "name": "Fine", "price": "1.00"}
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sku": ""}, "sku"),
        ({"sku": "has space"}, "sku"),
        ({"sku": "X" * 65}, "sku"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"description": "d" * 5001}, "description"),
        ({"price": "-0.01"}, "price"),
        ({"price": "1.001"}, "price"),
        ({"price": "10000000000"}, "price"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"stockQuantity": -1}, "stockQuantity"),
        ({"categoryId": "nope"}, "categoryId"),
        ({"categoryId": "00000000-0000-4000-8000-000000000000"}, "categoryId"),
    ],
)
def test_create_product_rejects_bad_input(gql, overrides, field):
    error = gql.error(CREATE, {"input": valid_input(**overrides)})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
    assert "Traceback" not in str(error)
    assert not Product.objects.exists()


def test_several_bad_fields_are_reported_together(gql):
    error = gql.error(CREATE, {"input": valid_input(sku="", name="", price="-1")})
    assert set(error["extensions"]["fields"]) == {"sku", "name", "price"}


def test_duplicate_sku_is_a_conflict(gql, make_product):
    make_product(sku="DUP-1")
    error = gql.error(CREATE, {"input": valid_input(sku="DUP-1")})
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["fields"] == {"sku": ["Already in use."]}
    assert Product.objects.count() == 1


def test_update_to_an_existing_sku_is_a_conflict_and_writes_nothing(gql, make_product):
    make_product(sku="TAKEN")
    other = make_product(sku="MINE", name="Before")
    error = gql.error(UPDATE, {"id": str(other.pk), "input": {"sku": "TAKEN", "name": "After"}})
    assert error["extensions"]["code"] == "CONFLICT"
    other.refresh_from_db()
    assert (other.sku, other.name) == ("MINE", "Before")


def test_update_rejects_null_for_required_fields(gql, make_product):
    product = make_product()
    error = gql.error(UPDATE, {"id": str(product.pk), "input": {"name": None, "stockQuantity": None}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {"name", "stockQuantity"}


def test_update_with_a_malformed_id_is_bad_input(gql):
    error = gql.error(UPDATE, {"id": "123", "input": {"name": "x"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == {"id": ["Must be a UUID."]}


def test_wrong_argument_types_are_validation_errors_not_500(gql):
    body = gql.execute(CREATE, {"input": {"sku": "A", "name": "B", "price": "not-a-number"}})
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    body = gql.execute("{ products(first: 1) { edges { node { nope } } } }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_syntax_error_is_a_parse_error(gql):
    body = gql.execute("{ products(first: ")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_malformed_json_body_is_a_400_with_a_code(client):
    response = client.post("/graphql/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_adjust_stock_rejects_zero_delta(gql, make_product):
    product = make_product()
    error = gql.error(
        "mutation($id: ID!) { adjustStock(productId: $id, delta: 0) { product { id } } }", {"id": str(product.pk)}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "delta" in error["extensions"]["fields"]


def test_category_validation(gql, category):
    assert gql.error(CREATE_CATEGORY, {"input": {"name": ""}})["extensions"]["code"] == "BAD_USER_INPUT"
    error = gql.error(CREATE_CATEGORY, {"input": {"name": "X", "slug": "Not A Slug"}})
    assert error["extensions"]["fields"] == {"slug": ["Lowercase letters, digits and single hyphens, at most 140 characters."]}
    assert gql.error(CREATE_CATEGORY, {"input": {"name": "Other", "slug": "lighting"}})["extensions"]["code"] == "CONFLICT"
    error = gql.error(CREATE_CATEGORY, {"input": {"name": "Child", "parentId": "00000000-0000-4000-8000-000000000000"}})
    assert error["extensions"]["fields"] == {"parentId": ["No category with this id."]}
    assert Category.objects.count() == 1


def test_category_cannot_become_its_own_ancestor(gql, category):
    child = Category.objects.create(name="Lamps", slug="lamps", parent=category)
    error = gql.error(UPDATE_CATEGORY, {"id": str(category.pk), "input": {"parentId": str(child.pk)}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    category.refresh_from_db()
    assert category.parent is None


def test_category_in_use_cannot_be_deleted(gql, category, make_product):
    make_product()
    error = gql.error(DELETE_CATEGORY, {"id": str(category.pk)})
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["products"] == 1
    parent = Category.objects.create(name="Home", slug="home")
    Category.objects.create(name="Sub", slug="sub", parent=parent)
    assert gql.error(DELETE_CATEGORY, {"id": str(parent.pk)})["extensions"]["subcategories"] == 1
    assert Category.objects.filter(pk=category.pk).exists()


def test_unexpected_errors_are_masked(gql, monkeypatch):
    from catalog import queries

    def explode(*args, **kwargs):
        raise RuntimeError("secret database detail")

    monkeypatch.setattr(queries, "get_product_by_sku", explode)
    body = gql.execute('{ productBySku(sku: "x") { id } }')
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret" not in str(body)


def test_commands_speak_domain_terms_and_the_edge_translates(gql, make_product, category):
    """Commands raise common.errors exceptions with snake_case fields; GraphQL shows camelCase."""
    from catalog import commands
    from common.errors import Conflict, NotFound, ValidationFailed

    with pytest.raises(ValidationFailed) as invalid:
        commands.create_product(sku="OK-1", name="x", price=Decimal("1"), stock_quantity=-1, category_id="nope")
    assert invalid.value.fields == {"stock_quantity": ["Must be between 0 and 2147483647."]}
    with pytest.raises(ValidationFailed) as bad_id:
        commands.update_category(category_id=category.pk, changes={"parent_id": "nope"})
    assert list(bad_id.value.fields) == ["parent_id"]
    product = make_product(stock_quantity=1)
    with pytest.raises(Conflict) as short:
        commands.adjust_stock(product_id=product.pk, delta=-3)
    assert short.value.data == {"available": 1, "requested": 3} and short.value.code == "CONFLICT"
    with pytest.raises(NotFound):
        commands.delete_product(product_id=uuid.uuid4())
    error = gql.error(
        """mutation { createProduct(input: {sku: "OK-2", name: "x", price: "1", stockQuantity: -1}) { product { id } } }"""
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"stockQuantity": ["Must be between 0 and 2147483647."]}}
