"""Orders read operations: one order (write model), lists (read model), User.orders (entity field)."""

from __future__ import annotations

from typing import Any

import graphene
from common.auth.decorators import permission_required, require_login
from common.auth.principal import Principal
from common.errors import PermissionDenied
from graphene_federation import key, list_size

from orders import queries
from orders.schema.types import V2_9, Order, OrderConnection, OrderStatus, connection_of

VIEW_ALL = "orders.view_order"


def viewer_of(principal: Principal) -> queries.Viewer:
    return queries.Viewer(
        user_id=queries.parse_user_id(principal.user_id) if principal.user_id else None,
        can_view_all=principal.has_perms([VIEW_ALL]),
    )


def _paged(field: graphene.Field) -> graphene.Field:
    # @listSize: the gateway's cost limit counts `edges` as `first` items (federation demand control).
    return list_size(field, slicing_arguments=["first"], sized_fields=["edges"], federation_version=V2_9)


def _status(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else value.value


class OrderFilterInput(graphene.InputObjectType):
    status = OrderStatus()
    user_id = graphene.ID()
    created_after = graphene.DateTime()
    created_before = graphene.DateTime()


PAGE_ARGS = {
    "first": graphene.Int(default_value=20, description=f"Page size, 1 to {queries.MAX_PAGE_SIZE}."),
    "after": graphene.String(),
}


@key(fields="id", federation_version=V2_9)
class User(graphene.ObjectType):
    """The accounts user; orders adds the user's orders (the user, or staff with orders.view_order)."""

    id = graphene.ID(required=True)
    orders = _paged(graphene.Field(OrderConnection, required=True, **PAGE_ARGS))

    @staticmethod
    def resolve_orders(user: User, info: graphene.ResolveInfo, first: int, after: str | None = None) -> OrderConnection:
        viewer = viewer_of(require_login(info))
        user_id = queries.parse_user_id(user.id, "id")
        if viewer.user_id != user_id and not viewer.can_view_all:
            raise PermissionDenied("Only the user and order staff see a user's orders.")
        return connection_of(queries.order_page(queries.OrderFilter(user_id=user_id), first=first, after=after))


class OrdersQuery(graphene.ObjectType):
    class Meta:
        name = "Query"

    order = graphene.Field(Order, id=graphene.ID(required=True))
    my_orders = _paged(graphene.Field(OrderConnection, required=True, status=OrderStatus(), **PAGE_ARGS))
    orders = _paged(graphene.Field(OrderConnection, required=True, filter=OrderFilterInput(), **PAGE_ARGS))

    @staticmethod
    def resolve_order(root: Any, info: graphene.ResolveInfo, id: str) -> queries.OrderView:
        return queries.get_order(id, viewer_of(require_login(info)))

    @staticmethod
    def resolve_my_orders(
        root: Any, info: graphene.ResolveInfo, first: int, after: str | None = None, status: Any = None
    ) -> OrderConnection:
        viewer = viewer_of(require_login(info))
        order_filter = queries.OrderFilter(user_id=viewer.user_id, status=_status(status))
        return connection_of(queries.order_page(order_filter, first=first, after=after))

    @staticmethod
    @permission_required(VIEW_ALL)
    def resolve_orders(
        root: Any, info: graphene.ResolveInfo, first: int, after: str | None = None, filter: dict[str, Any] | None = None
    ) -> OrderConnection:
        raw = filter or {}
        order_filter = queries.OrderFilter(
            user_id=queries.parse_user_id(raw["user_id"], "filter.user_id") if raw.get("user_id") else None,
            status=_status(raw.get("status")),
            created_after=raw.get("created_after"),
            created_before=raw.get("created_before"),
        )
        return connection_of(queries.order_page(order_filter, first=first, after=after))
