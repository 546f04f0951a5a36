"""Catalog test fixtures: a GraphQL client over Django's test client and ready-made rows.

Tokens come from `common.auth.pytest_plugin` (pytest.ini): a real local JWKS server and a
minter whose tokens have live sessions in the shared Redis registry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from catalog.models import Category, Product
from common.auth.roles import CATALOG_MANAGER
from common.auth.testing import TokenMinter
from django.test import Client

# Real broker (Tansu) per session, topic readers, relays and consumers in threads.
pytest_plugins = ["common.events.testing"]


class GraphQLClient:
    def __init__(self, client: Client, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def as_token(self, token: str | None) -> GraphQLClient:
        """The same client sending `Authorization: Bearer <token>` (None: anonymous)."""
        return GraphQLClient(self.client, token)

    def execute(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        if self.token is not None:
            headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.token}")
        response = self.client.post(
            "/graphql/", {"query": query, "variables": variables or {}}, content_type="application/json", **headers
        )
        assert response.status_code < 500, response.content
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.execute(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.execute(query, variables)
        assert body.get("errors"), body
        return body["errors"][0]


@pytest.fixture
def anon_gql(client: Client) -> GraphQLClient:
    return GraphQLClient(client)


@pytest.fixture
def gql(anon_gql: GraphQLClient, tokens: TokenMinter) -> GraphQLClient:
    """Signed in as a catalog manager, who may use every catalog mutation."""
    return anon_gql.as_token(tokens.mint(roles=[CATALOG_MANAGER]).token)


@pytest.fixture
def category(db: None) -> Category:
    return Category.objects.create(name="Lighting", slug="lighting")


@pytest.fixture
def make_product(db: None, category: Category):
    counter = iter(range(1, 10_000))

    def make(**overrides: Any) -> Product:
        n = next(counter)
        fields = {
            "sku": f"SKU-{n:05d}",
            "name": f"Product {n:05d}",
            "price": Decimal("10.00") + n,
            "stock_quantity": 5,
            "category": category,
        }
        fields.update(overrides)
        return Product.objects.create(**fields)

    return make
