"""Cart test fixtures: the cart's own redis-server (persistent, AOF, on a free port), a fresh key
prefix per test, the shared GraphQL test client (common.testing) able to send X-Cart-Id, and helpers that feed the product
read model through the real event handlers.

Tokens come from `common.auth.pytest_plugin` (pytest.ini); the broker, topic readers and
consumers in threads from `common.events.testing`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from cart import store
from common.cache.testing import PrivateRedisServer
from common.events.envelope import Envelope
from common.events.handlers import handlers_for
from common.testing.graphql import GraphQLTestClient
from django.utils import timezone

pytest_plugins = ["common.events.testing"]


@pytest.fixture(scope="session")
def cart_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedisServer]:
    """The cart's Redis for the whole run: like production, AOF with appendfsync everysec."""
    server = PrivateRedisServer(data_dir=str(tmp_path_factory.mktemp("cart-redis")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(settings: Any, tmp_path: Any) -> Iterator[PrivateRedisServer]:
    """A cart Redis this test may stop or kill: persistent like production (AOF, appendfsync everysec)."""
    server = PrivateRedisServer(data_dir=str(tmp_path))
    server.start()
    settings.CART_REDIS_URL = server.url
    yield server
    server.kill()


@pytest.fixture(autouse=True)
def cart_store(settings: Any, cart_redis: PrivateRedisServer) -> Iterator[Any]:
    """Each test has its own key prefix in the cart Redis."""
    settings.CART_REDIS_URL = cart_redis.url
    settings.CART_REDIS_PREFIX = f"t{uuid.uuid4().hex[:10]}:"
    yield store.client()
    try:
        keys = list(store.client().scan_iter(match=settings.CART_REDIS_PREFIX + "*", count=1000))
        if keys:
            store.client().unlink(*keys)
    except Exception:  # a test that stopped Redis cleans up nothing
        pass


class CartClient(GraphQLTestClient):
    """The shared GraphQL test client that can also name a cart (the X-Cart-Id header)."""

    def __init__(self, client: Any, path: str = "/graphql/", token: str | None = None,
                 cart_id: str | None = None) -> None:
        super().__init__(client, path, token)
        self.cart_id = cart_id

    def as_token(self, token: str | None) -> CartClient:
        return CartClient(self.client, self.path, token, self.cart_id)

    def with_cart(self, cart_id: str | None) -> CartClient:
        return CartClient(self.client, self.path, self.token, cart_id)

    def execute(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        if self.cart_id is not None:
            kwargs.setdefault("HTTP_X_CART_ID", self.cart_id)
        return super().execute(query, variables, **kwargs)


@pytest.fixture
def gql(graphql_client: GraphQLTestClient, db: None) -> CartClient:
    return CartClient(graphql_client.client)


def product_event(event_type: str, product_id: str, **fields: Any) -> Envelope:
    payload = {
        "id": product_id, "sku": fields.pop("sku", f"SKU-{product_id[:8]}"), "name": fields.pop("name", "Lamp"),
        "description": "", "price": str(fields.pop("price", Decimal("12.50"))), "currency": fields.pop("currency", "USD"),
        "stock_quantity": fields.pop("stock_quantity", 50), "category_id": None,
        "is_active": fields.pop("is_active", True),
        "updated_at": fields.pop("updated_at", timezone.now().isoformat()),
        **fields,
    }
    return Envelope(event_id=uuid.uuid4(), event_type=event_type, schema_version=1, aggregate_id=product_id,
                    occurred_at=timezone.now(), producer="catalog", correlation_id="test", payload=payload)


def apply(envelope: Envelope) -> set[str]:
    """Apply an event as the consumer does (same applier, same idempotency), without a broker."""
    from cart.consuming import applier

    return applier().apply_event(envelope, handlers_for(envelope.event_type))


@pytest.fixture
def catalog_event() -> Callable[..., Envelope]:
    """catalog_event("catalog.product.updated", product_id, price="9.99") -> the applied envelope."""

    def publish(event_type: str, product_id: str, **fields: Any) -> Envelope:
        envelope = product_event(event_type, product_id, **fields)
        apply(envelope)
        return envelope

    return publish


@pytest.fixture
def product(catalog_event: Callable[..., Envelope]) -> Callable[..., str]:
    """product(price="12.50", stock_quantity=50, is_active=True) -> id of a product the read model knows."""

    def make(**fields: Any) -> str:
        product_id = str(uuid.uuid4())
        catalog_event("catalog.product.created", product_id, **fields)
        return product_id

    return make


CART_FIELDS = (
    "id version totalQuantity updatedAt subtotal { amount currency } "
    "items { product { id } quantity unitPrice { amount currency } lineTotal { amount } available }"
)
ADD = f"mutation($p: ID!, $q: Int!) {{ addToCart(productId: $p, quantity: $q) {{ {CART_FIELDS} }} }}"
UPDATE = f"mutation($p: ID!, $q: Int!) {{ updateCartItem(productId: $p, quantity: $q) {{ {CART_FIELDS} }} }}"
REMOVE = f"mutation($p: ID!) {{ removeFromCart(productId: $p) {{ {CART_FIELDS} }} }}"
CLEAR = f"mutation {{ clearCart {{ {CART_FIELDS} }} }}"
MERGE = f"mutation($c: ID!) {{ mergeCart(cartId: $c) {{ {CART_FIELDS} }} }}"
CART = f"{{ cart {{ {CART_FIELDS} }} }}"
