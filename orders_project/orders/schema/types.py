"""GraphQL types of the orders subgraph. They render OrderView (orders/queries.py) whatever its source."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay
from graphene_federation import FederationVersion, key, list_size, shareable

from orders.models import OrderStatus as OrderStatusChoices
from orders.queries import HistoryView, LineView, OrderView

V2_9 = FederationVersion.VERSION_2_9

OrderStatus = graphene.Enum("OrderStatus", [(status, status) for status in OrderStatusChoices.values])


@shareable(federation_version=V2_9)
class Money(graphene.ObjectType):
    """The same value type as the catalog's (and the cart's): every subgraph may resolve it."""

    amount = graphene.Decimal(required=True)
    currency = graphene.String(required=True, description="ISO 4217 code.")


@key(fields="id", resolvable=False, federation_version=V2_9)
class Product(graphene.ObjectType):
    """The catalog's product: the gateway fetches its fields from the catalog (batched)."""

    id = graphene.ID(required=True)


class Address(graphene.ObjectType):
    name = graphene.String(required=True)
    line1 = graphene.String(required=True)
    line2 = graphene.String(required=True)
    city = graphene.String(required=True)
    postal_code = graphene.String(required=True)
    country = graphene.String(required=True, description="ISO 3166-1 alpha-2 code.")

    @staticmethod
    def resolve_postal_code(address: dict[str, str], info: graphene.ResolveInfo) -> str:
        return address["postal_code"]


for _field in ("name", "line1", "line2", "city", "country"):
    setattr(Address, f"resolve_{_field}", staticmethod(lambda address, info, _f=_field: address.get(_f, "")))


class OrderItem(graphene.ObjectType):
    product = graphene.Field(Product, required=True)
    product_name = graphene.String(required=True)
    sku = graphene.String(required=True)
    unit_price = graphene.Field(Money, required=True)
    quantity = graphene.Int(required=True)
    line_total = graphene.Field(Money, required=True)

    @staticmethod
    def resolve_product(line: LineView, info: graphene.ResolveInfo) -> Product:
        return Product(id=line.product_id)

    @staticmethod
    def resolve_unit_price(line: LineView, info: graphene.ResolveInfo) -> Money:
        return Money(amount=line.unit_price, currency=line.currency)

    @staticmethod
    def resolve_line_total(line: LineView, info: graphene.ResolveInfo) -> Money:
        return Money(amount=line.line_total, currency=line.currency)


class OrderHistoryEntry(graphene.ObjectType):
    from_status = graphene.Field(OrderStatus)
    to_status = graphene.Field(OrderStatus, required=True)
    at = graphene.DateTime(required=True)
    actor = graphene.String(required=True, description="The user id, or the part of the system that decided.")
    reason = graphene.String(required=True)

    @staticmethod
    def resolve_from_status(entry: HistoryView, info: graphene.ResolveInfo) -> str | None:
        return entry.from_status

    @staticmethod
    def resolve_to_status(entry: HistoryView, info: graphene.ResolveInfo) -> str:
        return entry.to_status


class Order(graphene.ObjectType):
    id = graphene.ID(required=True)
    status = graphene.Field(OrderStatus, required=True)
    items = list_size(
        graphene.List(graphene.NonNull(OrderItem), required=True), assumed_size=20, federation_version=V2_9
    )
    total = graphene.Field(Money, required=True)
    shipping_address = graphene.Field(Address, required=True)
    created_at = graphene.DateTime(required=True)
    updated_at = graphene.DateTime(required=True)
    history = list_size(
        graphene.List(graphene.NonNull(OrderHistoryEntry), required=True), assumed_size=10, federation_version=V2_9
    )

    @staticmethod
    def resolve_total(order: OrderView, info: graphene.ResolveInfo) -> Money:
        return Money(amount=order.total, currency=order.currency)


class OrderConnection(relay.Connection):
    class Meta:
        node = Order


def connection_of(page: Any) -> OrderConnection:
    edges = [OrderConnection.Edge(node=node, cursor=cursor) for node, cursor in zip(page.items, page.cursors, strict=True)]
    return OrderConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
    )
