"""Object types: Cart and CartItem as views over a stored cart plus the product read model,
Money, the DateTime/Decimal scalars, and the federated User (gains `cart`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ariadne import ScalarType
from ariadne.contrib.federation import FederatedObjectType
from common.auth.principal import principal_from_info
from common.errors import PermissionDenied
from django.conf import settings
from graphql import GraphQLResolveInfo

from cart import queries
from cart.access import Caller
from cart.model import Cart, user_cart_id

datetime_scalar = ScalarType("DateTime")
decimal_scalar = ScalarType("Decimal")
user_type = FederatedObjectType("User")


@datetime_scalar.serializer
def serialize_datetime(value: datetime) -> str:
    return value.isoformat()


@decimal_scalar.serializer
def serialize_decimal(value: Decimal) -> str:
    return str(value)


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


@dataclass(frozen=True)
class CartItemView:
    product: dict[str, str]
    quantity: int
    unit_price: dict[str, Any]
    line_total: dict[str, Any]
    available: bool


@dataclass(frozen=True)
class CartView:
    id: str
    version: int
    updated_at: datetime
    items: list[CartItemView]
    total_quantity: int
    subtotal: dict[str, Any]


def cart_view(cart: Cart) -> CartView:
    """The cart as clients see it: prices and availability from the read model, right now."""
    products = queries.products_by_id(line.product_id for line in cart.items)
    currency = settings.CART_DEFAULT_CURRENCY
    items = []
    subtotal = Decimal("0.00")
    for line in cart.items:
        product = products.get(line.product_id)
        price = product.price if product else Decimal("0.00")
        line_currency = (product.currency if product else "") or currency
        available = product is not None and product.available and product.stock_quantity >= line.quantity
        total = price * line.quantity
        if available and line_currency == currency:
            subtotal += total
        items.append(CartItemView(
            product={"id": line.product_id},
            quantity=line.quantity,
            unit_price=money(price, line_currency),
            line_total=money(total, line_currency),
            available=available,
        ))
    return CartView(
        id=cart.id,
        version=cart.version,
        updated_at=cart.updated_at,
        items=items,
        total_quantity=sum(line.quantity for line in cart.items),
        subtotal=money(subtotal, currency),
    )


def caller(info: GraphQLResolveInfo) -> Caller:
    request = info.context["request"]
    return Caller.of(principal_from_info(info), request.headers.get("X-Cart-Id"))


@user_type.reference_resolver
def resolve_user_reference(_: Any, info: GraphQLResolveInfo, representation: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(representation.get("id"))}


@user_type.field("cart")
def resolve_user_cart(user: dict[str, Any], info: GraphQLResolveInfo) -> CartView | None:
    who = caller(info)
    if who.user_id != user["id"] and not who.can_view_any:
        raise PermissionDenied("Only the user themself or staff with cart.view_cart may see this cart.")
    cart = queries.get_cart(user_cart_id(user["id"]))
    return cart_view(cart) if cart else None
