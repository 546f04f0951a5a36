"""Catalog test fixtures: GraphQL clients (anonymous and signed in), ready-made rows, and an
isolated cache namespace per test.

Tokens come from `common.auth.pytest_plugin` (pytest.ini): a real local JWKS server and a
minter whose tokens have live sessions in the shared Redis registry. The GraphQL client and the
other shared helpers come from `common.testing` (`-p common.testing.plugin`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from catalog.models import Category, Product
from common.auth.roles import CATALOG_MANAGER
from common.auth.testing import TokenMinter
from common.cache.client import breaker
from common.cache.namespaces import pending
from common.cache.readthrough import memo
from common.cache.stats import counters
from common.testing.graphql import GraphQLTestClient
from django.conf import settings as django_settings

# Real broker (Tansu) per session, topic readers, relays and consumers in threads.
pytest_plugins = ["common.events.testing"]


@pytest.fixture(autouse=True)
def isolated_cache(settings: Any) -> Iterator[str]:
    """Each test gets its own key prefix in the real Redis (so tests never see each other's
    cached values, even with a shared Redis) and clean per-process cache state."""
    prefix = f"test-catalog-{uuid.uuid4().hex[:12]}"
    settings.CACHE_KEY_PREFIX = prefix
    breaker.reset()
    pending.take()
    counters.reset_process()
    memo.clear()
    yield prefix
    breaker.reset()
    pending.take()
    counters.reset_process()
    client = redis.Redis.from_url(django_settings.REDIS_URL, socket_timeout=2)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.unlink(*keys)


@pytest.fixture
def anon_gql(graphql_client: GraphQLTestClient) -> GraphQLTestClient:
    return graphql_client


@pytest.fixture
def gql(anon_gql: GraphQLTestClient, tokens: TokenMinter) -> GraphQLTestClient:
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
