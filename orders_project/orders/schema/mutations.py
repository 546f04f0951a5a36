"""Orders mutations: thin wrappers over orders/commands.py (which raise the domain errors)."""

from __future__ import annotations

from typing import Any

import graphene
from common.auth.decorators import login_required, permission_required, require_login
from common.auth.principal import Principal

from orders import commands, queries
from orders.schema.types import Order

CHANGE_STATUS = "orders.change_order_status"


class AddressInput(graphene.InputObjectType):
    name = graphene.String(required=True)
    line1 = graphene.String(required=True)
    line2 = graphene.String()
    city = graphene.String(required=True)
    postal_code = graphene.String(required=True)
    country = graphene.String(required=True, description="ISO 3166-1 alpha-2 code, e.g. DE.")


def _actor(principal: Principal) -> commands.Actor:
    return commands.Actor.user(principal.user_id, is_staff=principal.has_perms([CHANGE_STATUS]))


class PlaceOrder(graphene.Mutation):
    """Check out the caller's cart. The same idempotencyKey returns the same order."""

    class Arguments:
        idempotency_key = graphene.String(required=True)
        shipping_address = AddressInput(required=True)
        cart_version = graphene.Int(description="The cart version the client saw: orders waits (briefly) for it.")

    order = graphene.Field(Order, required=True)

    @staticmethod
    @login_required
    def mutate(root: Any, info: graphene.ResolveInfo, idempotency_key: str, shipping_address: dict[str, Any],
               cart_version: int | None = None) -> PlaceOrder:
        principal = require_login(info)
        order = commands.place_order(
            user_id=principal.user_id,
            idempotency_key=idempotency_key,
            shipping_address=dict(shipping_address),
            cart_version=cart_version,
        )
        return PlaceOrder(order=queries.view_of(order))


class CancelOrder(graphene.Mutation):
    """The owner while PENDING or CONFIRMED; staff any time before SHIPPED."""

    class Arguments:
        id = graphene.ID(required=True)
        reason = graphene.String()

    order = graphene.Field(Order, required=True)

    @staticmethod
    @login_required
    def mutate(root: Any, info: graphene.ResolveInfo, id: str, reason: str | None = None) -> CancelOrder:
        actor = _actor(require_login(info))
        order = commands.cancel_order(order_id=id, actor=actor, reason=(reason or "")[:200])
        return CancelOrder(order=queries.view_of(order))


class PayOrder(graphene.Mutation):
    """The owner pays a CONFIRMED order through the configured payment provider."""

    class Arguments:
        id = graphene.ID(required=True)

    order = graphene.Field(Order, required=True)

    @staticmethod
    @login_required
    def mutate(root: Any, info: graphene.ResolveInfo, id: str) -> PayOrder:
        principal = require_login(info)
        order = commands.pay_order(order_id=id, actor=commands.Actor.user(principal.user_id))
        return PayOrder(order=queries.view_of(order))


class ShipOrder(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)

    order = graphene.Field(Order, required=True)

    @staticmethod
    @permission_required(CHANGE_STATUS)
    def mutate(root: Any, info: graphene.ResolveInfo, id: str) -> ShipOrder:
        order = commands.ship_order(order_id=id, actor=_actor(require_login(info)))
        return ShipOrder(order=queries.view_of(order))


class DeliverOrder(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)

    order = graphene.Field(Order, required=True)

    @staticmethod
    @permission_required(CHANGE_STATUS)
    def mutate(root: Any, info: graphene.ResolveInfo, id: str) -> DeliverOrder:
        order = commands.deliver_order(order_id=id, actor=_actor(require_login(info)))
        return DeliverOrder(order=queries.view_of(order))


class OrdersMutation(graphene.ObjectType):
    class Meta:
        name = "Mutation"

    place_order = PlaceOrder.Field()
    cancel_order = CancelOrder.Field()
    pay_order = PayOrder.Field()
    ship_order = ShipOrder.Field()
    deliver_order = DeliverOrder.Field()
