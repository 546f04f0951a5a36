"""placeOrder: lines snapshotted from the product replica, the cart from the cart replica,
clean errors with nothing written, idempotency keys (also under concurrent retries)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from common.events.models import OutboxEvent
from common.testing.threads import run_concurrently
from django.db import connection
from orders import commands
from orders.models import Order, OrderEvent, OrderLine

from tests.conftest import ADDRESS, ORDER, PLACE

pytestmark = pytest.mark.django_db


def placed_events(order_id: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(aggregate_id=order_id, event_type="orders.order.placed"))


def test_place_order_snapshots_lines_from_the_replica_and_publishes_placed(customer, shop):
    lamp = shop.product(price="12.50", name="Desk lamp")
    bulb = shop.product(price="3.20")
    version = shop.cart(customer.user_id, {lamp: 2, bulb: 5})

    order = customer.place(version=version)

    assert order["status"] == "PENDING"
    assert order["total"] == {"amount": "41.00", "currency": "USD"}
    assert [(i["product"]["id"], i["quantity"], i["unitPrice"]["amount"], i["lineTotal"]["amount"]) for i in order["items"]] == [
        (lamp, 2, "12.50", "25.00"), (bulb, 5, "3.20", "16.00")]
    assert order["items"][0]["productName"] == "Desk lamp"
    assert order["shippingAddress"] == {**ADDRESS, "line2": ""}
    assert order["history"] == [{"fromStatus": None, "toStatus": "PENDING", "actor": customer.user_id, "reason": "placed"}]
    [event] = placed_events(order["id"])
    payload = event.payload
    assert payload["cart_id"] == f"cart-{customer.user_id}" and payload["cart_version"] == version
    assert payload["user_id"] == customer.user_id and payload["total"] == "41.00" and payload["currency"] == "USD"
    assert [(i["product_id"], i["quantity"], i["unit_price"], i["sku"]) for i in payload["items"]] == [
        (lamp, 2, "12.50", f"SKU-{lamp[:8].upper()}"), (bulb, 5, "3.20", f"SKU-{bulb[:8].upper()}")]


def test_price_snapshot_survives_a_price_change(customer, shop):
    lamp = shop.product(price="12.50")
    shop.cart(customer.user_id, {lamp: 1})
    order = customer.place()
    shop.reprice(lamp, "99.00")
    assert customer.data(ORDER, {"id": order["id"]})["order"]["total"] == {"amount": "12.50"}
    # The next order sees the new price.
    shop.cart(customer.user_id, {lamp: 1})
    assert customer.place()["total"]["amount"] == "99.00"


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({**ADDRESS, "country": "XX"}, "shippingAddress.country"),
        ({**ADDRESS, "country": "germany"}, "shippingAddress.country"),
        ({**ADDRESS, "name": "  "}, "shippingAddress.name"),
        ({**ADDRESS, "postalCode": "1" * 21}, "shippingAddress.postalCode"),
        ({**ADDRESS, "line1": "x" * 201}, "shippingAddress.line1"),
        ({**ADDRESS, "city": "Lon\x07don"}, "shippingAddress.city"),
    ],
)
def test_invalid_address_is_bad_user_input_and_writes_nothing(customer, shop, address, field):
    shop.cart(customer.user_id, {shop.product(): 1})
    error = customer.error(PLACE, {"key": "k1", "address": address})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
    assert not Order.objects.exists() and not OutboxEvent.objects.filter(topic="orders.order").exists()


def test_idempotency_key_is_validated(customer, shop):
    shop.cart(customer.user_id, {shop.product(): 1})
    error = customer.error(PLACE, {"key": "k" * 101, "address": ADDRESS})
    assert error["extensions"]["fields"] == {"idempotencyKey": ["At most 100 characters."]}


def test_empty_cart_is_refused_cleanly(customer, shop):
    error = customer.error(PLACE, {"key": "k1", "address": ADDRESS})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "cart" in error["extensions"]["fields"]
    shop.cart(customer.user_id, {})
    assert customer.error(PLACE, {"key": "k1", "address": ADDRESS})["extensions"]["code"] == "BAD_USER_INPUT"
    assert not Order.objects.exists()


def test_unavailable_products_are_a_conflict(customer, shop):
    unknown = str(uuid.uuid4())
    inactive = shop.product(is_active=False)
    fine = shop.product()
    shop.cart(customer.user_id, {fine: 1, unknown: 1, inactive: 2})
    error = customer.error(PLACE, {"key": "k1", "address": ADDRESS})
    assert error["extensions"]["code"] == "CONFLICT"
    assert sorted(error["extensions"]["unavailableProductIds"]) == sorted([unknown, inactive])
    assert not Order.objects.exists() and not OrderLine.objects.exists()


def test_a_deleted_product_cannot_be_ordered(customer, shop):
    from tests.conftest import deliver

    lamp = shop.product()
    deliver("catalog.product.deleted", lamp, {"id": lamp})
    shop.cart(customer.user_id, {lamp: 1})
    assert customer.error(PLACE, {"key": "k1", "address": ADDRESS})["extensions"]["code"] == "CONFLICT"


def test_foreign_and_mixed_currencies_are_a_conflict(customer, shop):
    euro = shop.product(currency="EUR")
    shop.cart(customer.user_id, {euro: 1})
    error = customer.error(PLACE, {"key": "k1", "address": ADDRESS})
    assert error["extensions"]["code"] == "CONFLICT" and error["extensions"]["currency"] == "EUR"
    shop.cart(customer.user_id, {euro: 1, shop.product(): 1})
    error = customer.error(PLACE, {"key": "k2", "address": ADDRESS})
    assert error["extensions"]["code"] == "CONFLICT" and error["extensions"]["currencies"] == ["EUR", "USD"]
    assert not Order.objects.exists()


def test_anonymous_callers_cannot_place_orders(anonymous):
    assert anonymous.error(PLACE, {"key": "k1", "address": ADDRESS})["extensions"]["code"] == "UNAUTHENTICATED"


def test_the_same_key_returns_the_same_order(customer, shop):
    lamp = shop.product()
    version = shop.cart(customer.user_id, {lamp: 1})
    first = customer.place(key="checkout-1", version=version)
    assert customer.place(key="checkout-1", version=version)["id"] == first["id"]
    assert customer.place(key="checkout-1")["id"] == first["id"]
    # The cart empties itself on orders.order.placed: a retry after that is still the same checkout.
    shop.cart(customer.user_id, {})
    assert customer.place(key="checkout-1")["id"] == first["id"]
    assert Order.objects.count() == 1 and len(placed_events(first["id"])) == 1


def test_the_same_key_with_another_cart_is_a_conflict(customer, shop):
    lamp, bulb = shop.product(), shop.product()
    shop.cart(customer.user_id, {lamp: 1})
    customer.place(key="checkout-1")
    version = shop.cart(customer.user_id, {lamp: 1, bulb: 3})
    for variables in ({"key": "checkout-1", "address": ADDRESS}, {"key": "checkout-1", "address": ADDRESS, "version": version}):
        error = customer.error(PLACE, variables)
        assert error["extensions"]["code"] == "CONFLICT" and "idempotencyKey" in error["extensions"]["fields"]
    assert customer.place(key="checkout-2")["total"]["amount"] != ""
    assert Order.objects.count() == 2


def test_keys_belong_to_one_user(as_user, shop):
    lamp = shop.product()
    alice, bob = as_user(), as_user()
    shop.cart(alice.user_id, {lamp: 1})
    shop.cart(bob.user_id, {lamp: 2})
    assert alice.place(key="same")["id"] != bob.place(key="same")["id"]


@pytest.mark.django_db(transaction=True)
def test_placement_waits_for_the_cart_version_the_client_saw(customer, shop, settings):
    lamp, bulb = shop.product(), shop.product()
    version = shop.cart(customer.user_id, {lamp: 1})
    # The client saw version+1 (a line added just before checkout); its event arrives a moment later.
    settings.ORDERS_CART_WAIT_SECONDS = 10
    order = _place_while_the_cart_grows(customer, shop, lamp, bulb, version)
    assert order.cart_version == version + 1 and order.lines.count() == 2


def _place_while_the_cart_grows(customer, shop, lamp, bulb, version):
    """placeOrder for version+1 while the replica still has `version`; the line's event lands 0.3 s later."""
    timer = threading.Timer(0.3, lambda: (shop.cart(customer.user_id, {lamp: 1, bulb: 1}), connection.close()))
    timer.start()
    try:
        return commands.place_order(
            user_id=customer.user_id, idempotency_key="k", shipping_address=_address(), cart_version=version + 1
        )
    finally:
        timer.join()


@pytest.mark.django_db(transaction=True)
def test_the_cart_wait_wakes_on_the_consumers_commit_not_on_its_poll(customer, shop, settings):
    """The replica's NOTIFY (delivered at the handler's commit) ends the wait, long before the re-read poll."""
    lamp, bulb = shop.product(), shop.product()
    version = shop.cart(customer.user_id, {lamp: 1})
    settings.ORDERS_CART_WAIT_SECONDS = 8
    settings.ORDERS_CART_POLL_SECONDS = 6  # a poll alone would end the wait only after 6 s
    started = time.monotonic()
    order = _place_while_the_cart_grows(customer, shop, lamp, bulb, version)
    assert order.cart_version == version + 1 and order.lines.count() == 2
    assert time.monotonic() - started < 3, "the placement waited for its poll, not for the notification"


def test_a_cart_version_that_never_arrives_is_a_conflict_to_retry(customer, shop, settings):
    settings.ORDERS_CART_WAIT_SECONDS = 0.2
    version = shop.cart(customer.user_id, {shop.product(): 1})
    error = customer.error(PLACE, {"key": "k1", "address": ADDRESS, "version": version + 1})
    assert error["extensions"]["code"] == "CONFLICT" and error["extensions"]["retry"] is True
    assert error["extensions"]["knownVersion"] == version
    assert not Order.objects.exists()


def _address() -> dict[str, str]:
    return {"name": "Ada", "line1": "1 Road", "city": "Paris", "postal_code": "75001", "country": "FR"}


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_retries_make_exactly_one_order(customer, shop):
    lamp = shop.product()
    version = shop.cart(customer.user_id, {lamp: 2})

    def attempt() -> str:
        order = commands.place_order(
            user_id=customer.user_id, idempotency_key="retry-me", shipping_address=_address(), cart_version=version
        )
        return str(order.pk)

    results = run_concurrently([attempt] * 10)
    assert all(isinstance(result, str) for result in results), results
    assert len(set(results)) == 1
    assert Order.objects.count() == 1 and OrderEvent.objects.count() == 1
    assert len(placed_events(results[0])) == 1
