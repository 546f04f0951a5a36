"""Orders test fixtures: a GraphQL client over Django's test client, signed-in customers and staff,
and helpers that feed the read models the way the consumer does (through the real handlers).

Tokens come from `common.auth.pytest_plugin` (pytest.ini); the broker fixtures from
`common.events.testing`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from common.auth.roles import ORDER_MANAGER
from common.auth.testing import TokenMinter
from common.events.envelope import Envelope
from common.events.handlers import handlers_for
from common.events.processing import apply_event
from common.testing.graphql import GraphQLTestClient
from django.test import Client
from django.utils import timezone

pytest_plugins = ["common.events.testing"]

ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical St", "city": "London", "postalCode": "N1 9GU", "country": "GB"}

PLACE = """
mutation($key: String!, $address: AddressInput!, $version: Int) {
  placeOrder(idempotencyKey: $key, shippingAddress: $address, cartVersion: $version) {
    order { id status total { amount currency } items { product { id } productName sku quantity
            unitPrice { amount currency } lineTotal { amount } }
            shippingAddress { name line1 line2 city postalCode country }
            history { fromStatus toStatus actor reason } }
  }
}
"""
ORDER = "query($id: ID!) { order(id: $id) { id status total { amount } history { fromStatus toStatus actor reason } } }"


class GraphQLClient(GraphQLTestClient):
    """The shared test client, signed in as one user (`user_id`), with a checkout shortcut."""

    def __init__(self, client: Client, token: str | None = None, user_id: str | None = None) -> None:
        super().__init__(client, token=token)
        self.user_id = user_id

    def place(self, key: str | None = None, version: int | None = None, address: dict[str, Any] | None = None) -> dict:
        variables = {"key": key or uuid.uuid4().hex, "address": address or ADDRESS, "version": version}
        return self.data(PLACE, variables)["placeOrder"]["order"]


@pytest.fixture
def as_user(client: Client, tokens: TokenMinter) -> Callable[..., GraphQLClient]:
    """A GraphQL client signed in as a new user with the given roles (default: a customer)."""

    def make(*roles: str, user_id: str | None = None) -> GraphQLClient:
        minted = tokens.mint(roles=list(roles or ["customer"]), user_id=user_id)
        return GraphQLClient(Client(), minted.token, minted.user_id)

    return make


@pytest.fixture
def customer(as_user: Callable[..., GraphQLClient]) -> GraphQLClient:
    return as_user("customer")


@pytest.fixture
def manager(as_user: Callable[..., GraphQLClient]) -> GraphQLClient:
    return as_user(ORDER_MANAGER)


@pytest.fixture
def anonymous(client: Client) -> GraphQLClient:
    return GraphQLClient(client)


def deliver(event_type: str, aggregate_id: str, payload: dict[str, Any], *, event_id: uuid.UUID | None = None) -> set[str]:
    """Apply one event to this service's handlers exactly as the consumer does (idempotent per event id)."""
    envelope = Envelope(
        event_id=event_id or uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        aggregate_id=aggregate_id,
        occurred_at=timezone.now(),
        producer=event_type.split(".")[0],
        correlation_id="test",
        payload=payload,
    )
    return apply_event(envelope, handlers_for(event_type))


class Shop:
    """Feeds the product and cart replicas through the real handlers (as catalog and cart events would)."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}

    def product(self, *, price: str = "10.00", currency: str = "USD", name: str | None = None,
                product_id: str | None = None, is_active: bool = True) -> str:
        product_id = product_id or str(uuid.uuid4())
        tag = product_id[:8].upper()
        deliver("catalog.product.created", product_id, {
            "id": product_id, "sku": f"SKU-{tag}", "name": name or f"Lamp {tag}", "description": "",
            "price": price, "currency": currency, "stock_quantity": 10, "category_id": None,
            "is_active": is_active, "updated_at": timezone.now().isoformat(),
        })
        return product_id

    def reprice(self, product_id: str, price: str) -> None:
        deliver("catalog.product.updated", product_id, {
            "id": product_id, "sku": f"SKU-{product_id[:8].upper()}", "name": f"Lamp {product_id[:8].upper()}",
            "description": "", "price": price, "currency": "USD", "stock_quantity": 10, "category_id": None,
            "is_active": True, "updated_at": timezone.now().isoformat(),
        })

    def cart(self, user_id: str, items: dict[str, int], *, cart_id: str | None = None) -> int:
        """The user's cart now holds `items` ({product id: quantity}); returns the new version."""
        cart_id = cart_id or f"cart-{user_id}"
        version = self.versions.get(cart_id, 0) + 1
        self.versions[cart_id] = version
        deliver("cart.cart.item_added", cart_id, {
            "cart_id": cart_id, "user_id": user_id, "version": version,
            "items": [{"product_id": pid, "quantity": q} for pid, q in items.items()],
            "updated_at": timezone.now().isoformat(),
        })
        return version


@pytest.fixture(scope="session", autouse=True)
def _stop_cart_listener(django_db_setup: None) -> Iterator[None]:
    """placeOrder's LISTEN connection (orders/cart_wait.py) must be gone before the test database is dropped."""
    yield
    from orders.cart_wait import listener

    listener.stop()


@pytest.fixture
def shop(db: None) -> Shop:
    return Shop()


def money(amount: str) -> Decimal:
    return Decimal(amount)
