"""Every cart mutation and its error paths, over the cart's GraphQL endpoint, against its Redis."""

from __future__ import annotations

import json
import uuid

import pytest
from cart import store
from cart.model import ANONYMOUS_ID

from tests.conftest import ADD, CART, CLEAR, REMOVE, UPDATE


def outbox() -> list[dict]:
    """The envelopes waiting in the cart's outbox stream, oldest first."""
    return [json.loads(fields["envelope"]) for _, fields in store.client().xrange(store.outbox_stream())]


def stored(cart_id: str) -> dict:
    return store.client().hgetall(store.cart_key(cart_id))


def test_anonymous_add_creates_an_unguessable_cart_and_records_the_event(gql, product):
    lamp = product(price="12.50", stock_quantity=10)
    cart = gql.data(ADD, {"p": lamp, "q": 2})["addToCart"]
    assert ANONYMOUS_ID.match(cart["id"]) and len(cart["id"]) - len("anon-") == 32  # 192 random bits
    assert cart["version"] == 1 and cart["totalQuantity"] == 2
    assert cart["items"] == [{"product": {"id": lamp}, "quantity": 2, "unitPrice": {"amount": "12.50", "currency": "USD"},
                              "lineTotal": {"amount": "25.00"}, "available": True}]
    assert cart["subtotal"] == {"amount": "25.00", "currency": "USD"}
    [event] = outbox()
    assert event["event_type"] == "cart.cart.item_added" and event["aggregate_id"] == cart["id"]
    assert event["producer"] == "cart"
    assert event["payload"] == {
        "cart_id": cart["id"], "user_id": None, "version": 1, "items": [{"product_id": lamp, "quantity": 2}],
        "updated_at": event["payload"]["updated_at"], "product_id": lamp, "quantity": 2, "previous_quantity": 0,
    }
    # The same header names the same cart; adding again sums the line.
    again = gql.with_cart(cart["id"]).data(ADD, {"p": lamp, "q": 3})["addToCart"]
    assert (again["id"], again["version"], again["items"][0]["quantity"]) == (cart["id"], 2, 5)


def test_two_anonymous_carts_never_share_an_id(gql, product):
    lamp = product()
    ids = {gql.data(ADD, {"p": lamp, "q": 1})["addToCart"]["id"] for _ in range(5)}
    assert len(ids) == 5


def test_an_unknown_cart_id_gets_a_new_cart_never_the_one_the_client_named(gql, product):
    lamp = product()
    invented = "anon-" + "A" * 32
    cart = gql.with_cart(invented).data(ADD, {"p": lamp, "q": 1})["addToCart"]
    assert cart["id"] != invented
    assert not store.client().exists(store.cart_key(invented))


def test_update_remove_and_clear(gql, product):
    lamp, desk = product(stock_quantity=20), product(price="100.00")
    cart_id = gql.data(ADD, {"p": lamp, "q": 1})["addToCart"]["id"]
    client = gql.with_cart(cart_id)
    client.data(ADD, {"p": desk, "q": 1})
    updated = client.data(UPDATE, {"p": lamp, "q": 7})["updateCartItem"]
    assert [(i["product"]["id"], i["quantity"]) for i in updated["items"]] == [(lamp, 7), (desk, 1)]
    assert updated["version"] == 3 and updated["subtotal"]["amount"] == "187.50"
    removed = client.data(UPDATE, {"p": lamp, "q": 0})["updateCartItem"]  # 0 removes the line
    assert [i["product"]["id"] for i in removed["items"]] == [desk] and removed["version"] == 4
    client.data(ADD, {"p": lamp, "q": 2})
    after_remove = client.data(REMOVE, {"p": desk})["removeFromCart"]
    assert [i["product"]["id"] for i in after_remove["items"]] == [lamp] and after_remove["version"] == 6
    cleared = client.data(CLEAR)["clearCart"]
    assert cleared["items"] == [] and cleared["version"] == 7 and cleared["subtotal"]["amount"] == "0.00"
    assert client.data(CART)["cart"]["version"] == 7
    types = [event["event_type"] for event in outbox()]
    assert types == ["cart.cart.item_added", "cart.cart.item_added", "cart.cart.item_updated", "cart.cart.item_removed",
                     "cart.cart.item_added", "cart.cart.item_removed", "cart.cart.cleared"]
    assert [event["payload"]["version"] for event in outbox()] == [1, 2, 3, 4, 5, 6, 7]
    # Clearing an empty cart is not a change: no new version, no event.
    assert client.data(CLEAR)["clearCart"]["version"] == 7 and len(outbox()) == 7


def test_setting_the_same_quantity_changes_nothing(gql, product):
    lamp = product()
    cart_id = gql.data(ADD, {"p": lamp, "q": 2})["addToCart"]["id"]
    assert gql.with_cart(cart_id).data(UPDATE, {"p": lamp, "q": 2})["updateCartItem"]["version"] == 1
    assert len(outbox()) == 1


@pytest.mark.parametrize(("mutation", "variables", "code", "field"), [
    (ADD, {"q": 0}, "BAD_USER_INPUT", "quantity"),
    (ADD, {"q": 100}, "BAD_USER_INPUT", "quantity"),
    (ADD, {"q": -1}, "BAD_USER_INPUT", "quantity"),
    (ADD, {"q": 1, "p": "not-a-uuid"}, "BAD_USER_INPUT", "productId"),
    (ADD, {"q": 1, "p": "unknown"}, "NOT_FOUND", "productId"),
    (ADD, {"q": 1, "p": "inactive"}, "CONFLICT", "productId"),
    (ADD, {"q": 1, "p": "deleted"}, "NOT_FOUND", "productId"),
    (ADD, {"q": 6}, "CONFLICT", "quantity"),  # 5 in stock
    (UPDATE, {"q": 100}, "BAD_USER_INPUT", "quantity"),
    (UPDATE, {"q": -1}, "BAD_USER_INPUT", "quantity"),
    (UPDATE, {"q": 6}, "CONFLICT", "quantity"),
    (UPDATE, {"q": 1, "p": "unknown"}, "NOT_FOUND", "productId"),  # not in the cart
    (REMOVE, {"p": "unknown"}, "NOT_FOUND", "productId"),
])
def test_errors_have_codes_and_change_nothing(gql, product, catalog_event, mutation, variables, code, field):
    lamp = product(stock_quantity=5)
    inactive = product(is_active=False)
    deleted = product()
    catalog_event("catalog.product.deleted", deleted)
    client = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 1})["addToCart"]["id"])
    before, events_before = stored(client.cart_id), len(outbox())
    names = {"unknown": str(uuid.uuid4()), "inactive": inactive, "deleted": deleted}
    variables = {**variables, "p": names.get(variables.get("p", lamp), variables.get("p", lamp))}
    if mutation is REMOVE:
        variables.pop("q", None)
    error = client.error(mutation, variables)
    assert error["extensions"]["code"] == code, error
    if code != "NOT_FOUND":  # NOT_FOUND names no field
        assert field in error["extensions"]["fields"], error
    assert stored(client.cart_id) == before and len(outbox()) == events_before


def test_a_line_holds_at_most_99(gql, product):
    lamp = product(stock_quantity=500)
    client = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 60})["addToCart"]["id"])
    error = client.error(ADD, {"p": lamp, "q": 40})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "quantity" in error["extensions"]["fields"]
    assert client.data(ADD, {"p": lamp, "q": 39})["addToCart"]["items"][0]["quantity"] == 99


def test_a_cart_holds_at_most_100_lines(gql, product, settings):
    products = [product() for _ in range(101)]
    client = gql.with_cart(gql.data(ADD, {"p": products[0], "q": 1})["addToCart"]["id"])
    for product_id in products[1:100]:
        client.data(ADD, {"p": product_id, "q": 1})
    error = client.error(ADD, {"p": products[100], "q": 1})
    assert error["extensions"]["code"] == "CONFLICT"
    cart = client.data(CART)["cart"]
    assert len(cart["items"]) == 100 and cart["version"] == 100
    assert client.data(ADD, {"p": products[0], "q": 1})["addToCart"]["items"][0]["quantity"] == 2  # existing line ok


def test_mutations_without_a_cart_are_not_found(gql, product):
    lamp = product()
    for mutation, variables in ((UPDATE, {"p": lamp, "q": 1}), (REMOVE, {"p": lamp}), (CLEAR, {})):
        assert gql.error(mutation, variables)["extensions"]["code"] == "NOT_FOUND"
        assert gql.with_cart("anon-" + "B" * 32).error(mutation, variables)["extensions"]["code"] == "NOT_FOUND"


def test_cart_query_is_null_without_a_cart(gql, tokens):
    assert gql.data(CART)["cart"] is None
    assert gql.with_cart("anon-" + "C" * 32).data(CART)["cart"] is None
    assert gql.with_cart("garbage").data(CART)["cart"] is None
    assert gql.as_token(tokens.mint().token).data(CART)["cart"] is None


def test_anonymous_carts_expire_after_30_days_of_disuse_and_user_carts_never(gql, product, tokens, settings):
    lamp = product()
    cart_id = gql.data(ADD, {"p": lamp, "q": 1})["addToCart"]["id"]
    key = store.cart_key(cart_id)
    assert 30 * 24 * 3600 - 5 <= store.client().ttl(key) <= 30 * 24 * 3600
    store.client().expire(key, 100)
    gql.with_cart(cart_id).data(CART)  # reading is using: the 30 days start again
    assert store.client().ttl(key) > 100
    store.client().expire(key, 100)
    gql.with_cart(cart_id).data(ADD, {"p": lamp, "q": 1})
    assert store.client().ttl(key) > 100

    user = tokens.mint()
    user_cart = gql.as_token(user.token).data(ADD, {"p": lamp, "q": 1})["addToCart"]
    assert user_cart["id"] == f"user-{user.user_id}"
    assert store.client().ttl(store.cart_key(user_cart["id"])) == -1  # no expiry
