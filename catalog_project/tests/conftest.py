"""Catalog test fixtures: a GraphQL client over Django's test client and ready-made rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from catalog.models import Category, Product
from django.test import Client

# Real broker (Tansu) per session, topic readers, relays and consumers in threads.
pytest_plugins = ["common.events.testing"]


class GraphQLClient:
    def __init__(self, client: Client) -> None:
        self.client = client

    def execute(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
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
def gql(client: Client) -> GraphQLClient:
    return GraphQLClient(client)


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
