"""mergeCart after login: lines summed, capped, the anonymous cart deleted; twice is a no-op."""

from __future__ import annotations

import json

from cart import store

from tests.conftest import ADD, CART, MERGE


def test_merge_sums_caps_deletes_the_anonymous_cart_and_is_idempotent(gql, product, tokens):
    lamp, desk, rug, scarce = product(stock_quantity=500), product(), product(), product(stock_quantity=4)
    anonymous = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 60})["addToCart"]["id"])
    anonymous.data(ADD, {"p": desk, "q": 2})
    anonymous.data(ADD, {"p": scarce, "q": 3})
    user = tokens.mint()
    signed_in = gql.as_token(user.token)
    signed_in.data(ADD, {"p": lamp, "q": 50})
    signed_in.data(ADD, {"p": rug, "q": 1})
    signed_in.data(ADD, {"p": scarce, "q": 2})

    merged = signed_in.data(MERGE, {"c": anonymous.cart_id})["mergeCart"]
    assert merged["id"] == f"user-{user.user_id}" and merged["version"] == 4
    quantities = {i["product"]["id"]: i["quantity"] for i in merged["items"]}
    # 50+60 capped at 99 per line; 2+3 capped at the 4 in stock; lines kept in order, new ones last.
    assert quantities == {lamp: 99, rug: 1, scarce: 4, desk: 2}
    assert [i["product"]["id"] for i in merged["items"]] == [lamp, rug, scarce, desk]
    assert not store.client().exists(store.cart_key(anonymous.cart_id))
    assert anonymous.data(CART)["cart"] is None

    again = signed_in.data(MERGE, {"c": anonymous.cart_id})["mergeCart"]
    assert again == merged  # the anonymous cart is gone: nothing to add, no new version

    events = [json.loads(f["envelope"]) for _, f in store.client().xrange(store.outbox_stream())]
    merges = [e for e in events if e["event_type"] == "cart.cart.merged"]
    assert len(merges) == 1
    assert merges[0]["payload"]["source_cart_id"] == anonymous.cart_id
    assert merges[0]["actor"] == user.user_id and merges[0]["causation_id"] is None  # a request by this user
    assert merges[0]["payload"]["items"] == [{"product_id": p, "quantity": q} for p, q in quantities.items()]


def test_merge_into_a_user_without_a_cart(gql, product, tokens):
    lamp = product()
    anonymous = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 3})["addToCart"]["id"])
    user = tokens.mint()
    merged = gql.as_token(user.token).data(MERGE, {"c": anonymous.cart_id})["mergeCart"]
    assert [(i["product"]["id"], i["quantity"]) for i in merged["items"]] == [(lamp, 3)] and merged["version"] == 1
    assert store.client().ttl(store.cart_key(merged["id"])) == -1


def test_merge_needs_a_signed_in_user_and_an_anonymous_cart(gql, product, tokens):
    lamp = product()
    anonymous = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 1})["addToCart"]["id"])
    assert anonymous.error(MERGE, {"c": anonymous.cart_id})["extensions"]["code"] == "UNAUTHENTICATED"
    other = tokens.mint()
    gql.as_token(other.token).data(ADD, {"p": lamp, "q": 1})
    thief = gql.as_token(tokens.mint().token)
    # Another user's cart can never be merged away.
    assert thief.error(MERGE, {"c": f"user-{other.user_id}"})["extensions"]["code"] == "NOT_FOUND"
    assert store.client().exists(store.cart_key(f"user-{other.user_id}"))


def test_merging_an_emptied_anonymous_cart_deletes_it_and_keeps_the_users_lines(gql, product, tokens):
    lamp = product()
    anonymous = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 1})["addToCart"]["id"])
    anonymous.data("mutation { clearCart { version } }")
    user = gql.as_token(tokens.mint().token)
    user.data(ADD, {"p": lamp, "q": 2})
    merged = user.data(MERGE, {"c": anonymous.cart_id})["mergeCart"]
    assert [i["quantity"] for i in merged["items"]] == [2] and merged["version"] == 2
    assert not store.client().exists(store.cart_key(anonymous.cart_id))
