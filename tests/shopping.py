"""Shopping helpers for the cross-service tests and bench/checkout_bench.py: accounts, catalog
and orders through the gateway, the cart's events published the way the cart service publishes
them (docs/contracts.md, cart.cart.*), and a look into the orders database to wait for replicas.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import psycopg
from common.events.envelope import Envelope
from common.testing.polling import wait_until
from kafka import KafkaProducer

REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }"
LOGIN = "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken user { id } } }"
CREATE_PRODUCT = "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }"
UPDATE_PRODUCT = "mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { product { id } } }"
STOCK = "query($id: ID!) { product(id: $id) { stockQuantity } }"
PLACE = """
mutation($key: String!, $address: AddressInput!, $version: Int) {
  placeOrder(idempotencyKey: $key, shippingAddress: $address, cartVersion: $version) {
    order { id status total { amount currency } items { quantity unitPrice { amount } product { id } } }
  }
}
"""
ORDER = "query($id: ID!) { order(id: $id) { id status total { amount } history { fromStatus toStatus actor reason } } }"
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { order { id status } } }"
PAY = "mutation($id: ID!) { payOrder(id: $id) { order { id status } } }"
SHIP = "mutation($id: ID!) { shipOrder(id: $id) { order { id status } } }"
ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical St", "city": "London", "postalCode": "N1 9GU", "country": "GB"}
CATALOG_MANAGER = ("catalog.manager@example.com", "Catalog-demo-pass-1")
ORDER_MANAGER = ("order.manager@example.com", "Orders-demo-pass-1")
SETTLED = ("CONFIRMED", "REJECTED")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(gateway: Any, email: str, password: str) -> dict[str, str]:
    session = gateway.data(LOGIN, {"email": email, "password": password})["login"]
    return {"id": session["user"]["id"], "token": session["accessToken"]}


def new_customer(gateway: Any, *, attempts: int = 3) -> dict[str, str]:
    """A freshly registered and signed-in customer. Password hashing is slow on a loaded machine: a
    registration the gateway timed out is tried again with a new address."""
    for attempt in range(attempts):
        email = f"shopper-{uuid.uuid4().hex[:12]}@example.com"
        password = f"Pw-{uuid.uuid4().hex}"
        try:
            gateway.data(REGISTER, {"input": {"email": email, "password": password, "fullName": "Shopper"}})
            return {**login(gateway, email, password), "email": email}
        except AssertionError as error:  # a 5xx (gateway timeout) answer
            if attempt == attempts - 1 or "GATEWAY_TIMEOUT" not in str(error):
                raise
    raise AssertionError("unreachable")


def create_product(gateway: Any, manager_token: str, *, stock: int, price: str = "20.00") -> str:
    tag = uuid.uuid4().hex[:10].upper()
    product = {"sku": f"SAGA-{tag}", "name": f"Saga lamp {tag}", "price": price, "stockQuantity": stock}
    return gateway.data(CREATE_PRODUCT, {"input": product}, headers=bearer(manager_token))["createProduct"]["product"]["id"]


def stock_of(gateway: Any, manager_token: str, product_id: str) -> int:
    return gateway.data(STOCK, {"id": product_id}, headers=bearer(manager_token))["product"]["stockQuantity"]


class Carts:
    """Publishes cart.cart.* events (the whole cart in each, docs/contracts.md) as the cart service would."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=0)
        self.versions: dict[str, int] = {}

    def put(self, user_id: str, items: dict[str, int]) -> int:
        cart_id = f"user-{user_id}"
        version = self.versions.get(cart_id, 0) + 1
        self.versions[cart_id] = version
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        envelope = Envelope(
            event_id=uuid.uuid4(), event_type="cart.cart.item_added", schema_version=1, aggregate_id=cart_id,
            occurred_at=_now(), producer="cart", correlation_id=f"test-{uuid.uuid4().hex[:8]}",
            payload={"cart_id": cart_id, "user_id": user_id, "version": version, "updated_at": now,
                     "items": [{"product_id": pid, "quantity": q} for pid, q in items.items()]},
        )
        self.producer.send("cart.cart", key=cart_id.encode(), value=envelope.to_json()).get(timeout=10)
        return version

    def close(self) -> None:
        self.producer.close(timeout=2)


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


class OrdersDatabase:
    """Read-only look into the orders service's database, to wait for its replicas in tests."""

    def __init__(self, suffix: str | None = None) -> None:
        name = "orders" + (suffix if suffix is not None else os.environ.get("DATABASE_NAME_SUFFIX", ""))
        self.connection = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True)

    def has_product(self, product_id: str, price: str | None = None) -> bool:
        row = self.connection.execute("SELECT price FROM orders_productreplica WHERE product_id = %s", [product_id]).fetchone()
        return row is not None and (price is None or str(row[0]) == price)

    def cart_version(self, user_id: str) -> int:
        row = self.connection.execute("SELECT max(version) FROM orders_cartreplica WHERE user_id = %s", [user_id]).fetchone()
        return row[0] or 0

    def close(self) -> None:
        self.connection.close()


def place(gateway: Any, token: str, *, key: str | None = None, version: int | None = None) -> dict[str, Any]:
    variables = {"key": key or uuid.uuid4().hex, "address": ADDRESS, "version": version}
    return gateway.data(PLACE, variables, headers=bearer(token))["placeOrder"]["order"]


def status_of(gateway: Any, token: str, order_id: str) -> str:
    return gateway.data(ORDER, {"id": order_id}, headers=bearer(token))["order"]["status"]


def wait_settled(gateway: Any, token: str, order_id: str, timeout: float = 60) -> str:
    return wait_until(lambda: (s := status_of(gateway, token, order_id)) in SETTLED and s, timeout=timeout,
                      what=f"order {order_id} to leave PENDING", interval=0.1)
