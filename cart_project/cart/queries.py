"""Reads: carts and the product read model, from the cart's Redis."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from cart import store
from cart.model import Cart, Product, is_anonymous_cart_id


@store.needs_redis
def get_cart(cart_id: str, *, touch: bool = True) -> Cart | None:
    """The cart, or None. Reading an anonymous cart counts as use: its 30 days start again."""
    key = store.cart_key(cart_id)
    if not (touch and is_anonymous_cart_id(cart_id)):
        return Cart.from_hash(cart_id, store.client().hgetall(key))
    with store.client().pipeline(transaction=False) as pipe:  # one round trip for both
        pipe.hgetall(key)
        pipe.expire(key, settings.CART_ANONYMOUS_TTL_SECONDS)
        data, _ = pipe.execute()
    return Cart.from_hash(cart_id, data)


@store.needs_redis
def products_by_id(product_ids: Iterable[str]) -> dict[str, Product]:
    """Read-model products in one round trip."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    with store.client().pipeline(transaction=False) as pipe:
        for product_id in ids:
            pipe.hgetall(store.product_key(product_id))
        rows = pipe.execute()
    found = (Product.from_hash(product_id, row) for product_id, row in zip(ids, rows, strict=True))
    return {product.id: product for product in found if product is not None}
