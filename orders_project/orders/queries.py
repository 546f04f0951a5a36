"""Read side of orders (CQRS queries).

One order by id comes from the write model (3 queries: order, lines, history), so a client sees
its order the moment placeOrder returns. Lists (myOrders, orders, User.orders) come from the
OrderSummary read model: one query per page, whatever the number of lines.
Both become the same OrderView, which the GraphQL types render.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from common.errors import NotFound, ValidationFailed
from common.pagination import Page, SortKey, paginate
from django.db.models import Prefetch, QuerySet
from django.utils.dateparse import parse_datetime

from orders.models import Order, OrderEvent, OrderLine, OrderStatus, OrderSummary

MAX_PAGE_SIZE = 100
NEWEST_FIRST = [SortKey("created_at", descending=True), SortKey("order_id", descending=True)]


@dataclass(frozen=True)
class LineView:
    product_id: str
    product_name: str
    sku: str
    unit_price: Decimal
    quantity: int
    line_total: Decimal
    currency: str  # the order's (one currency per order)


@dataclass(frozen=True)
class HistoryView:
    from_status: str | None
    to_status: str
    at: dt.datetime
    actor: str
    reason: str


@dataclass(frozen=True)
class OrderView:
    id: str
    user_id: str
    status: str
    currency: str
    total: Decimal
    items: list[LineView]
    shipping_address: dict[str, str]
    history: list[HistoryView]
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Viewer:
    """Who reads: their own orders always; everyone's with orders.view_order."""

    user_id: uuid.UUID | None
    can_view_all: bool = False


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


# --- one order (write model) ---------------------------------------------------------------------


def _view_of_order(order: Order) -> OrderView:
    return OrderView(
        id=str(order.pk),
        user_id=str(order.user_id),
        status=order.status,
        currency=order.currency,
        total=order.total,
        items=[
            LineView(
                str(line.product_id), line.product_name, line.sku, line.unit_price, line.quantity, line.line_total,
                order.currency,
            )
            for line in order.lines.all()
        ],
        shipping_address=order.shipping_address,
        history=[HistoryView(h.from_status, h.to_status, h.at, h.actor, h.reason) for h in order.history.all()],
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def order_with_details(order_id: Any) -> QuerySet[Order]:
    return Order.objects.filter(pk=_uuid(order_id)).prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("position")),
        Prefetch("history", queryset=OrderEvent.objects.order_by("at", "id")),
    )


def get_order(order_id: Any, viewer: Viewer) -> OrderView:
    """The order if the viewer may see it; NOT_FOUND otherwise (never says it exists)."""
    if _uuid(order_id) is None or viewer.user_id is None:
        raise NotFound("Order not found.", id=str(order_id))
    queryset = order_with_details(order_id)
    if not viewer.can_view_all:
        queryset = queryset.filter(user_id=viewer.user_id)
    order = queryset.first()
    if order is None:
        raise NotFound("Order not found.", id=str(order_id))
    return _view_of_order(order)


def view_of(order: Order) -> OrderView:
    """A command's result (lines and history read fresh)."""
    return _view_of_order(order_with_details(order.pk).get())


# --- lists (read model) --------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilter:
    user_id: uuid.UUID | None = None
    status: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


def _view_of_summary(row: OrderSummary) -> OrderView:
    return OrderView(
        id=str(row.order_id),
        user_id=str(row.user_id),
        status=row.status,
        currency=row.currency,
        total=row.total,
        items=[
            LineView(
                str(item["product_id"]),
                item["name"],
                item["sku"],
                Decimal(str(item["unit_price"])),
                int(item["quantity"]),
                Decimal(str(item["line_total"])),
                row.currency,
            )
            for item in row.items
        ],
        shipping_address=row.shipping_address,
        history=[
            HistoryView(h.get("from_status"), h["to_status"], parse_datetime(h["at"]), h.get("actor", ""), h.get("reason", ""))
            for h in row.history
        ],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclass
class OrderPage:
    items: list[OrderView]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def check_page_size(first: int) -> None:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"`first` must be between 1 and {MAX_PAGE_SIZE}.", fields={"first": [f"Between 1 and {MAX_PAGE_SIZE}."]}
        )


def order_page(order_filter: OrderFilter, *, first: int, after: str | None) -> OrderPage:
    """A page of order summaries, newest first (keyset cursor: created_at, order id)."""
    check_page_size(first)
    if order_filter.status is not None and order_filter.status not in OrderStatus.values:
        raise ValidationFailed("Unknown status.", fields={"status": [f"One of {', '.join(OrderStatus.values)}."]})
    queryset = OrderSummary.objects.all()
    if order_filter.user_id is not None:
        queryset = queryset.filter(user_id=order_filter.user_id)
    if order_filter.status is not None:
        queryset = queryset.filter(status=order_filter.status)
    if order_filter.created_after is not None:
        queryset = queryset.filter(created_at__gte=order_filter.created_after)
    if order_filter.created_before is not None:
        queryset = queryset.filter(created_at__lt=order_filter.created_before)
    page: Page = paginate(queryset, keys=NEWEST_FIRST, first=first, after=after)
    return OrderPage([_view_of_summary(row) for row in page.items], page.cursors, page.has_next_page, page.has_previous_page)


def parse_user_id(value: Any, field: str = "user_id") -> uuid.UUID:
    parsed = _uuid(value)
    if parsed is None:
        raise ValidationFailed("Not a user id.", fields={field: ["A user id (UUID)."]})
    return parsed
