"""orders.order.placed: the cart drops exactly what the order took, once; later lines stay."""

from __future__ import annotations

import json
import uuid

from cart import store
from common.events.envelope import Envelope
from django.utils import timezone

from tests.conftest import ADD, CART, UPDATE, apply


def order_placed(cart: dict, user_id: str | None, items: list[tuple[str, int]]) -> Envelope:
    order_id = str(uuid.uuid4())
    return Envelope(
        event_id=uuid.uuid4(), event_type="orders.order.placed", schema_version=1, aggregate_id=order_id,
        occurred_at=timezone.now(), producer="orders", correlation_id="checkout",
        payload={"order_id": order_id, "user_id": user_id, "cart_id": cart["id"], "cart_version": cart["version"],
                 "status": "PENDING", "currency": "USD", "total": "0.00",
                 "items": [{"product_id": p, "sku": "", "name": "", "quantity": q, "unit_price": "1.00"}
                           for p, q in items],
                 "created_at": timezone.now().isoformat()},
    )


def test_order_placed_removes_what_the_order_took_and_keeps_later_lines(gql, product, tokens):
    lamp, desk, rug = product(), product(), product()
    user = tokens.mint()
    client = gql.as_token(user.token)
    client.data(ADD, {"p": lamp, "q": 2})
    checked_out = client.data(ADD, {"p": desk, "q": 1})["addToCart"]  # the order is placed from this version
    # After checkout, before the event arrives: one more lamp and a new line.
    client.data(UPDATE, {"p": lamp, "q": 3})
    client.data(ADD, {"p": rug, "q": 1})

    event = order_placed(checked_out, user.user_id, [(lamp, 2), (desk, 1)])
    assert apply(event) == {"cart.handlers.on_order_placed"}
    cart = client.data(CART)["cart"]
    assert [(i["product"]["id"], i["quantity"]) for i in cart["items"]] == [(lamp, 1), (rug, 1)]
    assert cart["version"] == 5
    assert apply(event) == set()  # redelivered: nothing more is removed
    assert client.data(CART)["cart"]["version"] == 5

    last = json.loads(store.client().xrevrange(store.outbox_stream(), count=1)[0][1]["envelope"])
    assert last["event_type"] == "cart.cart.checked_out"
    assert last["payload"]["order_id"] == event.payload["order_id"] and last["payload"]["version"] == 5
    assert last["causation_id"] == str(event.event_id)  # caused by the order's event
    assert last["payload"]["items"] == [{"product_id": lamp, "quantity": 1}, {"product_id": rug, "quantity": 1}]


def test_an_order_never_removes_more_than_the_cart_holds(gql, product):
    lamp = product()
    client = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 3})["addToCart"]["id"])
    cart = client.data(CART)["cart"]
    client.data(UPDATE, {"p": lamp, "q": 1})  # lowered after checkout
    apply(order_placed(cart, None, [(lamp, 3)]))
    assert client.data(CART)["cart"]["items"] == []


def test_an_order_naming_someone_elses_cart_changes_nothing(gql, product, tokens):
    lamp = product()
    owner = tokens.mint()
    cart = gql.as_token(owner.token).data(ADD, {"p": lamp, "q": 1})["addToCart"]
    apply(order_placed(cart, str(uuid.uuid4()), [(lamp, 1)]))
    assert gql.as_token(owner.token).data(CART)["cart"]["version"] == 1
