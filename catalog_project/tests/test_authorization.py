"""Who may do what in the catalog: reads are public, each write needs its catalog permission."""

from __future__ import annotations

import pytest
from catalog.models import Category, Product
from common.auth.testing import ATTACKS

pytestmark = pytest.mark.django_db

MUTATIONS = {
    "createProduct": (
        'mutation { createProduct(input: {sku: "NEW-1", name: "New", price: "1.00"}) { product { id } } }',
        "catalog.add_product",
    ),
    "updateProduct": (
        'mutation($p: ID!) { updateProduct(id: $p, input: {name: "Renamed"}) { product { id } } }',
        "catalog.change_product",
    ),
    "deleteProduct": ("mutation($p: ID!) { deleteProduct(id: $p) { deletedId } }", "catalog.delete_product"),
    "adjustStock": (
        "mutation($p: ID!) { adjustStock(productId: $p, delta: 3) { product { stockQuantity } } }",
        "catalog.change_product",
    ),
    "createCategory": ('mutation { createCategory(input: {name: "Garden"}) { category { id } } }', "catalog.add_category"),
    "updateCategory": (
        'mutation($c: ID!) { updateCategory(id: $c, input: {name: "Lamps"}) { category { id } } }',
        "catalog.change_category",
    ),
    "deleteCategory": ("mutation($c: ID!) { deleteCategory(id: $c) { deletedId } }", "catalog.delete_category"),
}

# The configured outcome per role: None = allowed.
EXPECTED = {
    "anonymous": "UNAUTHENTICATED",
    "customer": "FORBIDDEN",
    "order_manager": "FORBIDDEN",
    "catalog_manager": None,
    "admin": None,
}


@pytest.fixture
def targets(make_product):
    """A product and an unused category for the mutations to act on; returns (variables, snapshot)."""
    product = make_product(stock_quantity=5)
    spare = Category.objects.create(name="Spare", slug="spare")

    def snapshot():
        return (
            sorted(Product.objects.values_list("sku", "name", "stock_quantity")),
            sorted(Category.objects.values_list("slug", "name")),
        )

    return {"p": str(product.pk), "c": str(spare.pk)}, snapshot


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_role_permission_matrix(anon_gql, tokens, targets, role, mutation):
    variables, snapshot = targets
    query, _ = MUTATIONS[mutation]
    client = anon_gql if role == "anonymous" else anon_gql.as_token(tokens.mint(roles=[role]).token)
    before = snapshot()
    body = client.execute(query, {name: value for name, value in variables.items() if f"${name}" in query})
    expected = EXPECTED[role]
    if expected is None:
        assert "errors" not in body, body
        assert body["data"][mutation] is not None
        assert snapshot() != before
    else:
        assert [error["extensions"]["code"] for error in body["errors"]] == [expected]
        assert body["data"] is None or body["data"][mutation] is None
        assert snapshot() == before  # nothing written


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_exactly_the_named_permission_is_needed(anon_gql, tokens, targets, mutation):
    # PBAC without any role: the one permission opens the mutation; all the others do not.
    variables, _ = targets
    query, needed = MUTATIONS[mutation]
    used = {name: value for name, value in variables.items() if f"${name}" in query}
    others = [perm for _, perm in MUTATIONS.values() if perm != needed]
    without = anon_gql.as_token(tokens.mint(roles=[], perms=others).token).execute(query, used)
    assert without["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with_it = anon_gql.as_token(tokens.mint(roles=[], perms=[needed]).token).execute(query, used)
    assert "errors" not in with_it, with_it


def test_reads_are_public(anon_gql, make_product):
    make_product(name="Visible")
    data = anon_gql.data("{ products(first: 5) { edges { node { name } } } categories { name } }")
    assert [edge["node"]["name"] for edge in data["products"]["edges"]] == ["Visible"]


def test_signed_in_users_read_too(anon_gql, tokens, make_product):
    make_product(name="Visible")
    customer = anon_gql.as_token(tokens.mint(roles=["customer"]).token)
    assert customer.data("{ products(first: 5) { totalCount } }")["products"]["totalCount"] == 1


def test_authorization_comes_before_input_validation(anon_gql, tokens):
    # A caller without the permission learns nothing about valid input.
    query = 'mutation { createProduct(input: {sku: "", name: "", price: "-1"}) { product { id } } }'
    customer = anon_gql.as_token(tokens.mint(roles=["customer"]).token)
    assert customer.error(query)["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attacks_on_the_catalog_are_unauthenticated(anon_gql, tokens, targets, attack):
    variables, snapshot = targets
    before = snapshot()
    attacker = anon_gql.as_token(ATTACKS[attack](tokens))
    query, _ = MUTATIONS["adjustStock"]
    assert attacker.error(query, {"p": variables["p"]})["extensions"]["code"] == "UNAUTHENTICATED"
    assert attacker.error("{ categories { id } }")["extensions"]["code"] == "UNAUTHENTICATED"
    assert snapshot() == before
