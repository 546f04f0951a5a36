"""The checkout saga across services, through the gateway, with every worker running: orders
publishes orders.order.placed, the catalog reserves all lines or none and replies, orders confirms
or rejects; cancellations release stock once; a consumer killed mid-saga is restarted and the
saga completes without a double reservation. The cart's events are published per the contract."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from common.testing.polling import wait_until
from conftest import GraphQL, service_names
from shopping import (
    CANCEL,
    CATALOG_MANAGER,
    Carts,
    OrdersDatabase,
    bearer,
    create_product,
    login,
    new_customer,
    place,
    status_of,
    stock_of,
    wait_settled,
)

pytestmark = pytest.mark.skipif(not {"orders", "accounts"} <= service_names(), reason="needs orders and accounts")


@pytest.fixture(scope="module")
def manager_token(gateway: GraphQL) -> str:
    return login(gateway, *CATALOG_MANAGER)["token"]


@pytest.fixture(scope="module")
def carts(event_backbone: str) -> Iterator[Carts]:
    """The cart's events, published on the session broker that every worker reads."""
    feed = Carts(event_backbone)
    yield feed
    feed.close()


@pytest.fixture(scope="module")
def orders_db(platform: Any) -> Iterator[OrdersDatabase]:
    database = OrdersDatabase()
    yield database
    database.close()


@pytest.fixture(scope="module")
def shoppers(gateway: GraphQL) -> list[dict[str, str]]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: new_customer(gateway), range(50)))


def stocked_product(gateway: GraphQL, manager_token: str, orders_db: OrdersDatabase, stock: int) -> str:
    product_id = create_product(gateway, manager_token, stock=stock)
    wait_until(lambda: orders_db.has_product(product_id), what="orders to hear of the product")
    return product_id


def fill_carts(carts: Carts, orders_db: OrdersDatabase, users: list[dict[str, str]], items: dict[str, int]) -> dict[str, int]:
    versions = {user["id"]: carts.put(user["id"], items) for user in users}
    wait_until(lambda: all(orders_db.cart_version(uid) >= v for uid, v in versions.items()), what="cart replicas")
    return versions


def test_happy_path_reaches_confirmed_and_reserves_the_stock(gateway, manager_token, carts, orders_db, shoppers):
    shopper = shoppers[0]
    product_id = stocked_product(gateway, manager_token, orders_db, stock=5)
    version = fill_carts(carts, orders_db, [shopper], {product_id: 2})[shopper["id"]]
    order = place(gateway, shopper["token"], version=version)
    assert order["status"] == "PENDING" and order["total"]["amount"] == "40.00"
    assert wait_settled(gateway, shopper["token"], order["id"]) == "CONFIRMED"
    assert stock_of(gateway, manager_token, product_id) == 3


def test_not_enough_stock_is_rejected_and_reserves_nothing(gateway, manager_token, carts, orders_db, shoppers):
    shopper = shoppers[1]
    plenty = stocked_product(gateway, manager_token, orders_db, stock=10)
    scarce = stocked_product(gateway, manager_token, orders_db, stock=1)
    version = fill_carts(carts, orders_db, [shopper], {plenty: 3, scarce: 2})[shopper["id"]]
    order = place(gateway, shopper["token"], version=version)
    assert wait_settled(gateway, shopper["token"], order["id"]) == "REJECTED"
    history = gateway.data("query($id: ID!) { order(id: $id) { history { reason } } }", {"id": order["id"]},
                           headers=bearer(shopper["token"]))["order"]["history"]
    assert scarce in history[-1]["reason"]
    assert (stock_of(gateway, manager_token, plenty), stock_of(gateway, manager_token, scarce)) == (10, 1)


def checkout_all(gateway: GraphQL, users: list[dict[str, str]], versions: dict[str, int]) -> dict[str, str]:
    def checkout(user: dict[str, str]) -> tuple[str, str]:
        order = place(gateway, user["token"], version=versions[user["id"]])
        return order["id"], user["token"]

    with ThreadPoolExecutor(len(users)) as pool:
        placed = list(pool.map(checkout, users))
    with ThreadPoolExecutor(10) as pool:
        return dict(zip([order_id for order_id, _ in placed],
                        pool.map(lambda p: wait_settled(gateway, p[1], p[0], timeout=120), placed), strict=True))


def test_fifty_concurrent_checkouts_for_ten_units(gateway, manager_token, carts, orders_db, shoppers):
    product_id = stocked_product(gateway, manager_token, orders_db, stock=10)
    versions = fill_carts(carts, orders_db, shoppers, {product_id: 1})
    outcomes = checkout_all(gateway, shoppers, versions)
    assert Counter(outcomes.values()) == {"CONFIRMED": 10, "REJECTED": 40}
    assert stock_of(gateway, manager_token, product_id) == 0


def test_two_concurrent_checkouts_for_the_last_unit(gateway, manager_token, carts, orders_db, shoppers):
    product_id = stocked_product(gateway, manager_token, orders_db, stock=1)
    pair = shoppers[2:4]
    outcomes = checkout_all(gateway, pair, fill_carts(carts, orders_db, pair, {product_id: 1}))
    assert sorted(outcomes.values()) == ["CONFIRMED", "REJECTED"]
    assert stock_of(gateway, manager_token, product_id) == 0


def test_cancelling_a_confirmed_order_releases_its_stock_once(gateway, manager_token, carts, orders_db, shoppers):
    shopper = shoppers[4]
    product_id = stocked_product(gateway, manager_token, orders_db, stock=4)
    version = fill_carts(carts, orders_db, [shopper], {product_id: 3})[shopper["id"]]
    order = place(gateway, shopper["token"], version=version)
    assert wait_settled(gateway, shopper["token"], order["id"]) == "CONFIRMED"
    assert stock_of(gateway, manager_token, product_id) == 1
    cancelled = gateway.data(CANCEL, {"id": order["id"]}, headers=bearer(shopper["token"]))["cancelOrder"]["order"]
    assert cancelled["status"] == "CANCELLED"
    wait_until(lambda: stock_of(gateway, manager_token, product_id) == 4, what="the release")
    again = gateway.error(CANCEL, {"id": order["id"]}, headers=bearer(shopper["token"]))
    assert again["extensions"]["code"] == "CONFLICT" and again["extensions"]["currentStatus"] == "CANCELLED"
    assert stock_of(gateway, manager_token, product_id) == 4


def test_a_consumer_killed_mid_saga_restarts_and_the_saga_completes_once(platform, event_backbone, gateway, manager_token,
                                                                        carts, orders_db, shoppers):
    product_id = stocked_product(gateway, manager_token, orders_db, stock=100)
    users = shoppers[10:30]
    versions = fill_carts(carts, orders_db, users, {product_id: 2})

    def checkout(user: dict[str, str]) -> tuple[str, str]:
        return place(gateway, user["token"], version=versions[user["id"]], key=uuid.uuid4().hex)["id"], user["token"]

    with ThreadPoolExecutor(10) as pool:
        first = list(pool.map(checkout, users[:10]))
        # Kill the catalog's consumer as soon as the saga is under way (SIGKILL: nothing committed).
        wait_until(lambda: any(status_of(gateway, t, o) == "CONFIRMED" for o, t in first), what="a first confirmation")
        platform.kill_worker("catalog-consume")
        second = list(pool.map(checkout, users[10:]))
    assert all(status_of(gateway, t, o) == "PENDING" for o, t in second)
    platform.start_worker("catalog", "consume", broker=event_backbone)
    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(lambda p: wait_settled(gateway, p[1], p[0], timeout=120), first + second))
    assert outcomes == ["CONFIRMED"] * 20
    # Redelivered placements (the uncommitted tail of the killed consumer) reserved nothing twice.
    assert stock_of(gateway, manager_token, product_id) == 100 - 2 * 20


def test_an_order_expired_before_its_reservation_gets_its_stock_back(platform, event_backbone, gateway, manager_token,
                                                                     carts, orders_db, shoppers):
    """The catalog is down, the order times out (REJECTED); when the catalog comes back it reserves
    (placed comes first on the topic), then releases on orders.order.rejected: nothing stays taken."""
    import psycopg

    from devtools import services
    from devtools.env import service_env
    from devtools.manage import manage

    shopper = shoppers[40]
    product_id = stocked_product(gateway, manager_token, orders_db, stock=5)
    version = fill_carts(carts, orders_db, [shopper], {product_id: 3})[shopper["id"]]
    platform.kill_worker("catalog-consume")
    try:
        order = place(gateway, shopper["token"], version=version)
        orders = next(s for s in services.services() if s["name"] == "orders")
        env = service_env(orders, extra={**platform.env, "KAFKA_BOOTSTRAP_SERVERS": event_backbone})
        wait_until(lambda: manage(orders, ["expire_pending_orders", "--timeout", "1"], env=env) == 0
                   and status_of(gateway, shopper["token"], order["id"]) == "REJECTED", timeout=30, what="the expiry")
    finally:
        platform.start_worker("catalog", "consume", broker=event_backbone)
    catalog_db = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/catalog{os.environ['DATABASE_NAME_SUFFIX']}",
                                 autocommit=True)
    try:
        def reservation() -> tuple | None:
            return catalog_db.execute("SELECT status, lines FROM catalog_stockreservation WHERE order_id = %s",
                                      [order["id"]]).fetchone()

        released = wait_until(lambda: (row := reservation()) and row[0] == "RELEASED" and row, timeout=60,
                              what="the late reservation to be released")
        # It was really reserved first (a release seen first would hold no lines).
        assert released[1] == [{"product_id": product_id, "quantity": 3}]
    finally:
        catalog_db.close()
    assert stock_of(gateway, manager_token, product_id) == 5
    assert status_of(gateway, shopper["token"], order["id"]) == "REJECTED"
