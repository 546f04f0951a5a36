"""Only the owner reads or changes a cart; staff with cart.view_cart may read any; someone
else's cart id answers NOT_FOUND, never the cart."""

from __future__ import annotations

from tests.conftest import ADD, CART, CLEAR, REMOVE, UPDATE

ENTITIES = """query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on User { id cart { id version items { product { id } quantity } } } } }"""


def users(tokens, gql, product):
    lamp = product()
    a, b = tokens.mint(), tokens.mint()
    gql.as_token(a.token).data(ADD, {"p": lamp, "q": 1})
    gql.as_token(b.token).data(ADD, {"p": lamp, "q": 2})
    return lamp, a, b


def test_a_user_sending_another_users_cart_id_gets_not_found(gql, product, tokens):
    lamp, a, b = users(tokens, gql, product)
    with_b_cart = gql.as_token(a.token).with_cart(f"user-{b.user_id}")
    for mutation, variables in ((CART, {}), (ADD, {"p": lamp, "q": 1}), (UPDATE, {"p": lamp, "q": 5}),
                                (REMOVE, {"p": lamp}), (CLEAR, {})):
        body = with_b_cart.execute(mutation, variables)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", (mutation, body)
        assert "user-" + b.user_id not in str(body.get("data"))
    # B's cart is untouched; A still sees their own.
    assert gql.as_token(b.token).data(CART)["cart"]["items"][0]["quantity"] == 2
    assert gql.as_token(a.token).data(CART)["cart"]["id"] == f"user-{a.user_id}"


def test_anonymous_with_a_users_cart_id_gets_not_found(gql, product, tokens):
    lamp, a, _ = users(tokens, gql, product)
    anonymous = gql.with_cart(f"user-{a.user_id}")
    for mutation, variables in ((CART, {}), (UPDATE, {"p": lamp, "q": 5}), (REMOVE, {"p": lamp}), (CLEAR, {}),
                                (ADD, {"p": lamp, "q": 1})):
        assert anonymous.error(mutation, variables)["extensions"]["code"] == "NOT_FOUND", mutation
    assert gql.as_token(a.token).data(CART)["cart"]["items"][0]["quantity"] == 1


def test_a_signed_in_user_with_an_anonymous_cart_id_uses_their_own_cart(gql, product, tokens):
    lamp = product()
    anonymous = gql.with_cart(gql.data(ADD, {"p": lamp, "q": 4})["addToCart"]["id"])
    user = tokens.mint()
    cart = gql.as_token(user.token).with_cart(anonymous.cart_id).data(ADD, {"p": lamp, "q": 1})["addToCart"]
    assert cart["id"] == f"user-{user.user_id}" and cart["items"][0]["quantity"] == 1
    assert anonymous.data(CART)["cart"]["items"][0]["quantity"] == 4  # left for mergeCart


def test_staff_with_cart_view_cart_may_read_any_cart_but_not_change_it(gql, product, tokens):
    _, a, _ = users(tokens, gql, product)
    manager = gql.as_token(tokens.mint(roles=["order_manager"], perms=["cart.view_cart"]).token)
    assert manager.with_cart(f"user-{a.user_id}").data(CART)["cart"]["items"][0]["quantity"] == 1
    assert manager.with_cart(f"user-{a.user_id}").error(CLEAR)["extensions"]["code"] == "NOT_FOUND"
    assert gql.as_token(a.token).data(CART)["cart"]["items"][0]["quantity"] == 1


def test_user_cart_field_is_for_the_owner_and_cart_staff_only(gql, product, tokens):
    _, a, b = users(tokens, gql, product)
    reps = {"reps": [{"__typename": "User", "id": a.user_id}]}
    own = gql.as_token(a.token).data(ENTITIES, reps)["_entities"][0]
    assert own["cart"]["id"] == f"user-{a.user_id}" and own["cart"]["items"][0]["quantity"] == 1
    other = gql.as_token(b.token).execute(ENTITIES, reps)
    assert other["data"]["_entities"][0]["cart"] is None
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = gql.execute(ENTITIES, reps)
    assert anonymous["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    manager = gql.as_token(tokens.mint(roles=["order_manager"], perms=["cart.view_cart"]).token)
    assert manager.data(ENTITIES, reps)["_entities"][0]["cart"]["version"] == 1
    nobody = {"reps": [{"__typename": "User", "id": tokens.mint().user_id}]}
    assert manager.data(ENTITIES, nobody)["_entities"][0]["cart"] is None
