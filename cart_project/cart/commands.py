"""Writes to carts. Each command validates against the current cart and the product read model,
then writes the new cart and its event in ONE optimistic Redis transaction (WATCH/MULTI/EXEC,
`store.transact`): many clients changing one cart never lose an update, `version` grows by one
per change, and an error leaves nothing written. Commands raise `common.errors` exceptions.
"""

from __future__ import annotations

import uuid
from typing import Any

from common.errors import Conflict, NotFound, ValidationFailed
from django.conf import settings

from cart import events, store
from cart.model import Cart, Line, Product, is_anonymous_cart_id, new_anonymous_cart_id, user_cart_id


def _product_id(product_id: str) -> str:
    try:
        return str(uuid.UUID(str(product_id)))
    except ValueError:
        raise ValidationFailed("Not a product id.", fields={"product_id": ["Not a valid product id."]}) from None


def _quantity(quantity: int, *, minimum: int) -> int:
    maximum = settings.CART_MAX_LINE_QUANTITY
    if not isinstance(quantity, int) or not minimum <= quantity <= maximum:
        raise ValidationFailed(
            f"Quantity must be between {minimum} and {maximum}.",
            fields={"quantity": [f"Must be between {minimum} and {maximum}."]},
        )
    return quantity


def _watch_and_read(
    pipe: Any, cart_ids: list[str], product_ids: list[str]
) -> tuple[list[Cart | None], dict[str, Product]]:
    """WATCH the carts and products (one round trip), then read them all (one more): EXEC will
    fail if any of them changes before it. Reads need not use the watching connection."""
    keys = [store.cart_key(c) for c in cart_ids] + [store.product_key(p) for p in product_ids]
    if not keys:
        return [], {}
    pipe.watch(*keys)
    with store.client().pipeline(transaction=False) as reader:
        for key in keys:
            reader.hgetall(key)
        rows = reader.execute()
    carts = [Cart.from_hash(cart_id, row) for cart_id, row in zip(cart_ids, rows, strict=False)]
    found = (Product.from_hash(p, row) for p, row in zip(product_ids, rows[len(cart_ids):], strict=True))
    return carts, {product.id: product for product in found if product is not None}


def _load_cart(pipe: Any, cart_id: str) -> Cart | None:
    return _watch_and_read(pipe, [cart_id], [])[0][0]


def _save(pipe: Any, cart: Cart) -> None:
    """Queue the cart's new state (after pipe.multi()). Anonymous carts live 30 days from last use."""
    key = store.cart_key(cart.id)
    pipe.hset(key, mapping=cart.to_hash())
    if cart.is_anonymous:
        pipe.expire(key, settings.CART_ANONYMOUS_TTL_SECONDS)


def _orderable(product: Product | None, product_id: str, wanted: int) -> Product:
    """The product may be put in a cart at this line quantity, per the read model."""
    if product is None or product.deleted:
        raise NotFound("No such product.")
    if not product.is_active:
        raise Conflict("This product is not available.", fields={"product_id": ["Not available."]})
    if wanted > product.stock_quantity:
        raise Conflict(
            f"Only {product.stock_quantity} in stock.",
            fields={"quantity": [f"Only {product.stock_quantity} in stock."]},
            available=product.stock_quantity,
        )
    return product


def _existing(pipe: Any, cart_id: str | None) -> Cart:
    cart = _load_cart(pipe, cart_id) if cart_id else None
    if cart is None:
        raise NotFound("No such cart.")
    return cart


# --- commands ------------------------------------------------------------------------------------


@store.needs_redis
def add_to_cart(*, cart_id: str | None, user_id: str | None, product_id: str, quantity: int = 1) -> Cart:
    """Add `quantity` of a product; an anonymous caller without a (live) cart gets a new one."""
    product_id = _product_id(product_id)
    quantity = _quantity(quantity, minimum=1)
    if user_id is not None:
        cart_id = user_cart_id(user_id)
    elif cart_id is None or not is_anonymous_cart_id(cart_id) or not store.client().exists(store.cart_key(cart_id)):
        cart_id = new_anonymous_cart_id()  # ids are minted here, never chosen by the client

    def change(pipe: Any) -> Cart:
        [found], products = _watch_and_read(pipe, [cart_id], [product_id])
        cart = found or Cart.empty(cart_id, user_id)
        previous = cart.quantity_of(product_id)
        wanted = previous + quantity
        if wanted > settings.CART_MAX_LINE_QUANTITY:
            raise ValidationFailed(
                f"At most {settings.CART_MAX_LINE_QUANTITY} of one product per cart.",
                fields={"quantity": [f"At most {settings.CART_MAX_LINE_QUANTITY} per line ({previous} already)."]},
            )
        if not previous and len(cart.items) >= settings.CART_MAX_LINES:
            raise Conflict(f"A cart holds at most {settings.CART_MAX_LINES} different products.")
        _orderable(products.get(product_id), product_id, wanted)
        updated = cart.changed(cart.with_quantity(product_id, wanted))
        pipe.multi()
        _save(pipe, updated)
        events.record(pipe, events.ITEM_ADDED, updated, product_id=product_id, quantity=wanted,
                      previous_quantity=previous)
        return updated

    return store.transact(change)


@store.needs_redis
def update_cart_item(*, cart_id: str | None, product_id: str, quantity: int) -> Cart:
    """Set a line's quantity; 0 removes the line. Raising it is checked against stock."""
    product_id = _product_id(product_id)
    quantity = _quantity(quantity, minimum=0)
    if quantity == 0:
        return remove_from_cart(cart_id=cart_id, product_id=product_id)
    if cart_id is None:
        raise NotFound("No such cart.")

    def change(pipe: Any) -> Cart:
        [cart], products = _watch_and_read(pipe, [cart_id], [product_id])
        if cart is None:
            raise NotFound("No such cart.")
        previous = cart.quantity_of(product_id)
        if not previous:
            raise NotFound("This product is not in the cart.")
        if quantity == previous:
            return cart
        if quantity > previous:
            _orderable(products.get(product_id), product_id, quantity)
        updated = cart.changed(cart.with_quantity(product_id, quantity))
        pipe.multi()
        _save(pipe, updated)
        events.record(pipe, events.ITEM_UPDATED, updated, product_id=product_id, quantity=quantity,
                      previous_quantity=previous)
        return updated

    return store.transact(change)


@store.needs_redis
def remove_from_cart(*, cart_id: str | None, product_id: str) -> Cart:
    product_id = _product_id(product_id)

    def change(pipe: Any) -> Cart:
        cart = _existing(pipe, cart_id)
        previous = cart.quantity_of(product_id)
        if not previous:
            raise NotFound("This product is not in the cart.")
        updated = cart.changed(cart.with_quantity(product_id, 0))
        pipe.multi()
        _save(pipe, updated)
        events.record(pipe, events.ITEM_REMOVED, updated, product_id=product_id, quantity=0,
                      previous_quantity=previous)
        return updated

    return store.transact(change)


@store.needs_redis
def clear_cart(*, cart_id: str | None) -> Cart:
    def change(pipe: Any) -> Cart:
        cart = _existing(pipe, cart_id)
        if not cart.items:
            return cart  # nothing to change: no new version, no event
        updated = cart.changed(())
        pipe.multi()
        _save(pipe, updated)
        events.record(pipe, events.CLEARED, updated)
        return updated

    return store.transact(change)


@store.needs_redis
def merge_cart(*, user_id: str, source_cart_id: str) -> Cart:
    """After login: the anonymous cart's lines go into the user's cart (quantities summed, capped
    at the line maximum and the known stock; lines beyond the cart's maximum are dropped), and
    the anonymous cart is deleted. Merging a cart that is gone (merged already) changes nothing."""
    target_id = user_cart_id(user_id)
    if not is_anonymous_cart_id(source_cart_id):
        raise NotFound("No such anonymous cart.")

    def change(pipe: Any) -> Cart:
        [found, source], _ = _watch_and_read(pipe, [target_id, source_cart_id], [])
        target = found or Cart.empty(target_id, user_id)
        if source is None:
            return target
        _, products = _watch_and_read(pipe, [], [line.product_id for line in source.items])
        lines = list(target.items)
        for line in source.items:
            product = products.get(line.product_id)
            cap = settings.CART_MAX_LINE_QUANTITY
            if product is not None and product.available:
                cap = min(cap, product.stock_quantity)
            existing = next((i for i, kept in enumerate(lines) if kept.product_id == line.product_id), None)
            if existing is None:
                if len(lines) < settings.CART_MAX_LINES and min(line.quantity, cap) > 0:
                    lines.append(Line(line.product_id, min(line.quantity, cap)))
            else:
                current = lines[existing].quantity
                lines[existing] = Line(line.product_id, max(current, min(current + line.quantity, cap)))
        merged = target.changed(tuple(lines))
        pipe.multi()
        _save(pipe, merged)
        pipe.delete(store.cart_key(source_cart_id))
        events.record(pipe, events.MERGED, merged, source_cart_id=source_cart_id)
        return merged

    return store.transact(change)
