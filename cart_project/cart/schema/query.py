"""Query resolvers of the cart subgraph."""

from __future__ import annotations

from typing import Any

from ariadne import QueryType
from graphql import GraphQLResolveInfo

from cart import queries
from cart.schema.types import CartView, caller, cart_view

query = QueryType()


@query.field("cart")
def resolve_cart(_: Any, info: GraphQLResolveInfo) -> CartView | None:
    cart_id = caller(info).cart_to_read()
    cart = queries.get_cart(cart_id) if cart_id else None
    return cart_view(cart) if cart else None
