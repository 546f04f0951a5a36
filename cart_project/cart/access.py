"""Whose cart a request may read or change. Only the owner reads or changes a cart; staff with
`cart.view_cart` may read any. Someone else's cart id answers NOT_FOUND, never the cart.

The owner is the signed-in user (their cart is keyed by their user id) or, anonymously, whoever
holds the unguessable id sent in `X-Cart-Id`.
"""

from __future__ import annotations

from functools import cached_property

from common.auth.principal import Principal
from common.errors import NotFound

from cart.model import is_anonymous_cart_id, is_user_cart_id, user_cart_id

VIEW_ANY_CART = "cart.view_cart"
CART_HEADER = "X-Cart-Id"


class Caller:
    def __init__(self, principal: Principal, header_cart_id: str | None) -> None:
        self.principal = principal
        self.user_id = principal.user_id
        self.header_cart_id = (header_cart_id or "").strip() or None

    @classmethod
    def of(cls, principal: Principal, header_cart_id: str | None) -> Caller:
        return cls(principal, header_cart_id)

    @cached_property
    def can_view_any(self) -> bool:
        # Asked only when someone else's cart is at stake (it may read the user replica).
        return self.principal.is_authenticated and self.principal.has_perms([VIEW_ANY_CART])

    @property
    def own_cart_id(self) -> str | None:
        return user_cart_id(self.user_id) if self.user_id else None

    def cart_to_read(self) -> str | None:
        """The cart the `cart` query shows (None: the caller has none)."""
        header = self.header_cart_id
        if header and is_user_cart_id(header) and header != self.own_cart_id:
            if self.can_view_any:
                return header
            raise NotFound("No such cart.")
        if self.user_id:
            return self.own_cart_id  # an anonymous id sent after login is merged with mergeCart
        return header if header and is_anonymous_cart_id(header) else None

    def cart_to_change(self) -> str | None:
        """The cart mutations change (None: an anonymous caller without one yet)."""
        header = self.header_cart_id
        if header and is_user_cart_id(header) and header != self.own_cart_id:
            raise NotFound("No such cart.")  # staff may look, never change
        if self.user_id:
            return self.own_cart_id
        return header if header and is_anonymous_cart_id(header) else None
