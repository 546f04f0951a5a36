"""Mutation resolvers: who is calling, then one command; the command does the work."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType
from common.errors import Unauthenticated
from graphql import GraphQLResolveInfo

from cart import commands
from cart.schema.types import CartView, caller, cart_view

mutation = MutationType()


@mutation.field("addToCart")
def resolve_add_to_cart(_: Any, info: GraphQLResolveInfo, product_id: str, quantity: int = 1) -> CartView:
    who = caller(info)
    cart = commands.add_to_cart(cart_id=who.cart_to_change(), user_id=who.user_id, product_id=product_id,
                                quantity=quantity)
    return cart_view(cart)


@mutation.field("updateCartItem")
def resolve_update_cart_item(_: Any, info: GraphQLResolveInfo, product_id: str, quantity: int) -> CartView:
    cart = commands.update_cart_item(cart_id=caller(info).cart_to_change(), product_id=product_id, quantity=quantity)
    return cart_view(cart)


@mutation.field("removeFromCart")
def resolve_remove_from_cart(_: Any, info: GraphQLResolveInfo, product_id: str) -> CartView:
    return cart_view(commands.remove_from_cart(cart_id=caller(info).cart_to_change(), product_id=product_id))


@mutation.field("clearCart")
def resolve_clear_cart(_: Any, info: GraphQLResolveInfo) -> CartView:
    return cart_view(commands.clear_cart(cart_id=caller(info).cart_to_change()))


@mutation.field("mergeCart")
def resolve_merge_cart(_: Any, info: GraphQLResolveInfo, cart_id: str) -> CartView:
    who = caller(info)
    if who.user_id is None:
        raise Unauthenticated("Sign in to merge a cart into yours.")
    return cart_view(commands.merge_cart(user_id=who.user_id, source_cart_id=cart_id))
