"""The product read model, fed by catalog.product events (no call to the catalog)."""

from __future__ import annotations

import uuid

from cart import store

from tests.conftest import ADD, CART, apply, product_event


def test_price_change_is_shown_at_once(gql, product, catalog_event):
    lamp = product(price="12.50")
    client = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 2})["addToCart"]["id"])
    catalog_event("catalog.product.updated", lamp, price="9.99")
    item = client.data(CART)["cart"]["items"][0]
    assert item["unitPrice"]["amount"] == "9.99" and item["lineTotal"]["amount"] == "19.98"


def test_deactivated_or_deleted_products_stay_and_show_unavailable(gql, product, catalog_event):
    lamp, desk, rug = product(price="10.00"), product(price="5.00"), product(price="1.00")
    client = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 1})["addToCart"]["id"])
    client.data(ADD, {"p": desk, "q": 1})
    client.data(ADD, {"p": rug, "q": 1})
    catalog_event("catalog.product.updated", lamp, price="10.00", is_active=False)
    catalog_event("catalog.product.deleted", desk, price="5.00")
    cart = client.data(CART)["cart"]
    assert [(i["product"]["id"], i["available"]) for i in cart["items"]] == [(lamp, False), (desk, False), (rug, True)]
    assert cart["subtotal"]["amount"] == "1.00"  # what could be checked out now
    assert cart["totalQuantity"] == 3
    assert client.error(ADD, {"p": lamp, "q": 1})["extensions"]["code"] == "CONFLICT"
    assert client.error(ADD, {"p": desk, "q": 1})["extensions"]["code"] == "NOT_FOUND"


def test_stock_adjusted_is_an_upsert_and_limits_adds(gql, product, catalog_event):
    lamp = product(stock_quantity=5)
    catalog_event("catalog.product.stock_adjusted", lamp, stock_quantity=1, delta=-4, previous_quantity=5)
    error = gql.error(ADD, {"p": lamp, "q": 2})
    assert error["extensions"]["code"] == "CONFLICT" and error["extensions"]["available"] == 1


def test_an_older_event_does_not_undo_a_newer_one(product, catalog_event):
    lamp = product(price="12.00", updated_at="2026-12-01T10:00:00+00:00")
    catalog_event("catalog.product.updated", lamp, price="8.00", updated_at="2026-12-01T09:00:00+00:00")
    assert store.client().hget(store.product_key(lamp), "price") == "12.00"


def test_a_redelivered_event_has_no_second_effect(product):
    lamp = str(uuid.uuid4())
    event = product_event("catalog.product.created", lamp, price="3.00")
    assert apply(event) == {"cart.handlers.on_product_event"}
    assert apply(event) == set()  # the marker was written with the effect
    marker = f"{store.processed_prefix()}{event.event_id}:cart.handlers.on_product_event"
    assert store.client().ttl(marker) > 0
