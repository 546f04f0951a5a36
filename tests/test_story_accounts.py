"""Story, part 2 (needs the accounts subgraph): register -> login -> me -> a catalog manager creates
and updates a product while a customer gets FORBIDDEN -> one query spanning catalog and accounts ->
logout -> the old token is rejected by every subgraph, all through the gateway.

Skipped only while services.json has no `accounts` service; it runs as soon as accounts is merged.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from common.testing.polling import eventually
from conftest import GraphQL, service_names

pytestmark = pytest.mark.skipif("accounts" not in service_names(), reason="services.json has no accounts service yet")

# Seeded by `seed_accounts --if-empty` (the accounts seed command in services.json).
CATALOG_MANAGER = ("catalog.manager@example.com", "Catalog-demo-pass-1")

REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { user { id email roles } } }"
LOGIN = """
mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken tokenType user { id email roles permissions } }
}
"""
ME = "{ me { id email fullName roles permissions } }"
CREATE_PRODUCT = """
mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id sku name price { amount currency } } } }
"""
UPDATE_PRODUCT = """
mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { product { id name price { amount } } } }
"""
PRODUCT = "query($id: ID!) { product(id: $id) { id sku name price { amount currency } } }"

# One operation per subgraph that makes that subgraph look at the caller's token.
# A new subgraph (cart, orders) adds its line here: the logout test below insists on it.
TOKEN_PROBES = {
    "catalog": "{ products(first: 1) { totalCount } }",
    "accounts": "{ me { id } }",
    "cart": "{ cart { id } }",
    "orders": "{ myOrders(first: 1) { edges { cursor } } }",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(gateway: GraphQL, email: str, password: str) -> dict[str, Any]:
    payload = gateway.data(LOGIN, {"email": email, "password": password})["login"]
    assert payload["tokenType"] == "Bearer"
    return payload


def new_product_input() -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10].upper()
    return {"sku": f"E2E-{tag}", "name": f"E2E Lamp {tag}", "price": "49.90", "stockQuantity": 3}


@pytest.fixture(scope="module")
def customer(gateway: GraphQL) -> dict[str, Any]:
    """A freshly registered customer, logged in through the gateway."""
    email = f"e2e-{uuid.uuid4().hex[:12]}@example.com"
    password = f"Pw-{uuid.uuid4().hex}"
    registered = gateway.data(REGISTER, {"input": {"email": email, "password": password, "fullName": "E2E Shopper"}})
    user = registered["register"]["user"]
    assert user["email"] == email
    assert "customer" in user["roles"]
    session = login(gateway, email, password)
    assert session["user"]["id"] == user["id"]
    return {"email": email, "password": password, "id": user["id"], "token": session["accessToken"]}


@pytest.fixture(scope="module")
def manager_token(gateway: GraphQL) -> str:
    session = login(gateway, *CATALOG_MANAGER)
    assert "catalog.add_product" in session["user"]["permissions"]
    return session["accessToken"]


def test_registering_a_taken_email_reveals_nothing_and_changes_nothing(gateway, customer):
    again = gateway.data(REGISTER, {"input": {"email": customer["email"], "password": "Another-pass-123"}})
    user = again["register"]["user"]
    assert user["email"] == customer["email"] and user["id"] != customer["id"]  # answers like a new account
    login = gateway.data(LOGIN, {"email": customer["email"], "password": customer["password"]})["login"]
    assert login["user"]["id"] == customer["id"]  # the real account is untouched


def test_wrong_password_is_unauthenticated(gateway, customer):
    error = gateway.error(LOGIN, {"email": customer["email"], "password": "wrong-password-123"})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


def test_me_through_the_gateway(gateway, customer):
    me = gateway.data(ME, headers=bearer(customer["token"]))["me"]
    assert me == {**me, "id": customer["id"], "email": customer["email"], "fullName": "E2E Shopper"}
    assert "catalog.add_product" not in me["permissions"]


def test_me_is_null_for_anonymous(gateway):
    assert gateway.data(ME) == {"me": None}


def test_catalog_manager_creates_and_updates_a_product(gateway, manager_token):
    created = gateway.data(CREATE_PRODUCT, {"input": new_product_input()}, headers=bearer(manager_token))
    product = created["createProduct"]["product"]
    updated = gateway.data(UPDATE_PRODUCT, {"id": product["id"], "input": {"name": product["name"] + " XL", "price": "59.90"}},
                           headers=bearer(manager_token))["updateProduct"]["product"]
    assert updated["name"] == product["name"] + " XL"
    assert float(updated["price"]["amount"]) == 59.90

    def anonymous_sees_the_update() -> None:  # a read cache may serve the old version for an instant
        seen = gateway.data(PRODUCT, {"id": product["id"]})["product"]
        assert seen["name"] == updated["name"] and float(seen["price"]["amount"]) == 59.90

    eventually(anonymous_sees_the_update)


def test_customer_cannot_create_or_update_products(gateway, customer, manager_token):
    error = gateway.error(CREATE_PRODUCT, {"input": new_product_input()}, headers=bearer(customer["token"]))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["serviceName"] == "catalog"
    created = gateway.data(CREATE_PRODUCT, {"input": new_product_input()}, headers=bearer(manager_token))
    product = created["createProduct"]["product"]
    error = gateway.error(UPDATE_PRODUCT, {"id": product["id"], "input": {"name": "hijacked"}}, headers=bearer(customer["token"]))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert gateway.data(PRODUCT, {"id": product["id"]})["product"]["name"] == product["name"]  # nothing half-written


def test_anonymous_cannot_create_products(gateway):
    error = gateway.error(CREATE_PRODUCT, {"input": new_product_input()})
    assert error["extensions"]["code"] in {"UNAUTHENTICATED", "FORBIDDEN"}


def test_one_query_spans_catalog_and_accounts(gateway, customer):
    query = "{ me { id email } products(first: 3, orderBy: PRICE_ASC) { totalCount edges { node { id name } } } }"
    data = gateway.data(query, headers=bearer(customer["token"]))
    assert data["me"]["id"] == customer["id"]
    assert len(data["products"]["edges"]) == 3 and data["products"]["totalCount"] >= 3


def test_after_logout_the_old_token_is_rejected_by_every_subgraph(gateway, customer, platform):
    # Its own session, so the other tests of this module keep theirs.
    session = login(gateway, customer["email"], customer["password"])
    token = session["accessToken"]
    assert set(TOKEN_PROBES) >= set(platform.subgraphs), "add a token probe for every subgraph"
    for name, probe in TOKEN_PROBES.items():
        assert not gateway.execute(probe, headers=bearer(token)).get("errors"), name

    ended = gateway.data("mutation { logout { endedSessions } }", headers=bearer(token))["logout"]
    assert ended["endedSessions"] == 1

    for name, probe in TOKEN_PROBES.items():
        def rejected(probe: str = probe, name: str = name) -> None:
            body = gateway.execute(probe, headers=bearer(token))
            assert body.get("errors"), (name, body)
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", (name, body)
            assert body["errors"][0]["extensions"].get("serviceName") == name

        eventually(rejected)
    refreshed = gateway.execute(
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }", {"t": session["refreshToken"]}
    )
    assert refreshed["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # The customer's other session is untouched.
    assert gateway.data(ME, headers=bearer(customer["token"]))["me"]["id"] == customer["id"]
