"""Create/read/update/delete round trips for products through GraphQL."""

from __future__ import annotations

import pytest
from catalog.models import Product

pytestmark = pytest.mark.django_db

PRODUCT_FIELDS = "id sku name description price { amount currency } stockQuantity inStock isActive category { id name }"

CREATE = f"""
mutation($input: CreateProductInput!) {{ createProduct(input: $input) {{ product {{ {PRODUCT_FIELDS} }} }} }}
"""
UPDATE = f"""
mutation($id: ID!, $input: UpdateProductInput!) {{ updateProduct(id: $id, input: $input) {{ product {{ {PRODUCT_FIELDS} }} }} }}
"""
DELETE = "mutation($id: ID!) { deleteProduct(id: $id) { deletedId } }"
ADJUST = "mutation($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta) { product { stockQuantity inStock } } }"


def test_create_read_update_delete_round_trip(gql, category):
    created = gql.data(
        CREATE,
        {
            "input": {
                "sku": "LAMP-1",
                "name": "  Desk Lamp ",
                "description": "Warm light",
                "price": "19.99",
                "currency": "EUR",
                "stockQuantity": 3,
                "categoryId": str(category.pk),
            }
        },
    )["createProduct"]["product"]
    assert created["name"] == "Desk Lamp"
    assert created["price"] == {"amount": "19.99", "currency": "EUR"}
    assert created["category"]["name"] == "Lighting"
    assert created["inStock"] is True

    read = gql.data(f'query($id: ID!) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}', {"id": created["id"]})
    assert read["product"] == created
    by_sku = gql.data(f'{{ productBySku(sku: "LAMP-1") {{ {PRODUCT_FIELDS} }} }}')
    assert by_sku["productBySku"] == created

    updated = gql.data(UPDATE, {"id": created["id"], "input": {"price": "24.50", "categoryId": None}})
    product = updated["updateProduct"]["product"]
    assert product["price"]["amount"] == "24.50"
    assert product["category"] is None
    assert product["name"] == "Desk Lamp"  # untouched fields stay as they were
    assert product["description"] == "Warm light"

    assert gql.data(DELETE, {"id": created["id"]})["deleteProduct"]["deletedId"] == created["id"]
    assert gql.data('query($id: ID!) { product(id: $id) { id } }', {"id": created["id"]})["product"] is None
    assert not Product.objects.exists()


def test_create_uses_defaults(gql):
    product = gql.data(CREATE, {"input": {"sku": "MIN-1", "name": "Minimal", "price": "0"}})["createProduct"]["product"]
    assert product["price"] == {"amount": "0.00", "currency": "USD"}
    assert product["stockQuantity"] == 0
    assert product["inStock"] is False
    assert product["isActive"] is True


def test_adjust_stock_adds_and_removes(gql, make_product):
    product = make_product(stock_quantity=2)
    assert gql.data(ADJUST, {"id": str(product.pk), "delta": 5})["adjustStock"]["product"]["stockQuantity"] == 7
    result = gql.data(ADJUST, {"id": str(product.pk), "delta": -7})["adjustStock"]["product"]
    assert result == {"stockQuantity": 0, "inStock": False}


def test_adjust_stock_never_below_zero(gql, make_product):
    product = make_product(stock_quantity=2)
    error = gql.error(ADJUST, {"id": str(product.pk), "delta": -3})
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["available"] == 2
    product.refresh_from_db()
    assert product.stock_quantity == 2


def test_unknown_product_is_null_on_read_and_not_found_on_write(gql):
    missing = "00000000-0000-4000-8000-000000000000"
    assert gql.data('query($id: ID!) { product(id: $id) { id } }', {"id": missing})["product"] is None
    assert gql.data('query($id: ID!) { product(id: $id) { id } }', {"id": "not-a-uuid"})["product"] is None
    for query, variables in (
        (UPDATE, {"id": missing, "input": {"name": "x"}}),
        (DELETE, {"id": missing}),
        (ADJUST, {"id": missing, "delta": 1}),
    ):
        assert gql.error(query, variables)["extensions"]["code"] == "NOT_FOUND"
