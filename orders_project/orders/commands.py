"""Write side of orders (CQRS commands).

Every command is keyword-only and runs in one transaction: validate, lock (orders/lock_objects.py),
check the transition (orders/state.py), then change the order, write its history row and record
its event in the outbox (docs/orders.md). They raise common.errors exceptions; nothing is written
when they do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from common.errors import Conflict, FieldErrors, ValidationFailed
from common.events.outbox import record_event
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders import cart_wait, events, payments
from orders.lock_objects import lock_checkout, lock_order
from orders.models import CartReplica, Order, OrderEvent, OrderLine, OrderStatus, ProductReplica
from orders.state import Action, Role, transition_for
from orders.validation import check_cart_version, check_idempotency_key, clean_address

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Actor:
    """Who asks for a change: a signed-in user (maybe staff) or a part of the system."""

    name: str  # recorded in the history: the user id, or "catalog" / "expiry"
    user_id: uuid.UUID | None = None
    is_staff: bool = False  # holds orders.change_order_status

    @classmethod
    def user(cls, user_id: Any, *, is_staff: bool = False) -> Actor:
        return cls(name=str(user_id), user_id=uuid.UUID(str(user_id)), is_staff=is_staff)

    def roles_for(self, order: Order) -> frozenset[Role]:
        roles = set()
        if self.user_id is None:
            roles.add(Role.SYSTEM)
        elif order.user_id == self.user_id:
            roles.add(Role.OWNER)
        if self.is_staff:
            roles.add(Role.STAFF)
        return frozenset(roles)


CATALOG = Actor(name="catalog")
EXPIRY = Actor(name="expiry")


# --- placing an order ----------------------------------------------------------------------------


def _fingerprint(items: list[dict[str, Any]]) -> str:
    canonical = ",".join(sorted(f"{item['product_id']}:{item['quantity']}" for item in items))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _user_cart(user_id: uuid.UUID) -> CartReplica | None:
    return CartReplica.objects.filter(user_id=user_id).order_by("-updated_at", "-version").first()


def wait_for_cart(user_id: uuid.UUID, cart_version: int | None) -> CartReplica | None:
    """The caller's cart from the replica; with `cart_version`, once the replica has caught up with it.

    The replica is fed by cart.cart.* events: a line added just before checkout may still be on
    its way. Waiting (bounded) for the version the client saw means it is never lost. The wait
    wakes on the consumer's commit (orders/cart_wait.py, LISTEN/NOTIFY) and re-reads the replica
    every ORDERS_CART_POLL_SECONDS in any case.
    """
    cart = _user_cart(user_id)
    if cart_version is None or (cart is not None and cart.version >= cart_version):
        return cart  # the usual case: the replica is already there, no listener involved
    deadline = time.monotonic() + settings.ORDERS_CART_WAIT_SECONDS
    with cart_wait.listener.waiting_for(user_id) as changed:
        cart = _user_cart(user_id)  # read again once registered: any later commit sets `changed`
        while cart is None or cart.version < cart_version:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Conflict(
                    "The cart is still being updated; try again in a moment.",
                    cart_version=cart_version,
                    known_version=cart.version if cart else None,
                    retry=True,
                )
            changed.wait(min(remaining, settings.ORDERS_CART_POLL_SECONDS))
            changed.clear()  # before the read: a commit after it sets the event again
            cart = _user_cart(user_id)
    return cart


def _cart_lines(items: Any) -> list[tuple[uuid.UUID, int]]:
    """(product id, quantity) per product, in cart order; a product listed twice is summed."""
    quantities: dict[uuid.UUID, int] = {}
    for item in items if isinstance(items, list) else []:
        try:
            product_id = uuid.UUID(str(item["product_id"]))
            quantity = int(item["quantity"])
        except (KeyError, TypeError, ValueError):
            continue  # a replica row we cannot read names no product
        if quantity > 0:
            quantities[product_id] = quantities.get(product_id, 0) + quantity
    return list(quantities.items())


def _snapshot(lines: list[tuple[uuid.UUID, int]]) -> tuple[str, list[OrderLine]]:
    """Order lines priced from the product replica (never from the client), and their currency."""
    if len(lines) > settings.ORDERS_MAX_LINES:
        raise ValidationFailed("Too many different products.", fields={"cart": [f"At most {settings.ORDERS_MAX_LINES} lines."]})
    too_many = [str(pid) for pid, quantity in lines if quantity > settings.ORDERS_MAX_LINE_QUANTITY]
    if too_many:
        raise ValidationFailed(
            "Too many units of a product.",
            fields={"cart": [f"At most {settings.ORDERS_MAX_LINE_QUANTITY} units per product."]},
            product_ids=too_many,
        )
    products = ProductReplica.objects.in_bulk([pid for pid, _ in lines])
    unavailable = [str(pid) for pid, _ in lines if pid not in products or not products[pid].orderable]
    if unavailable:
        raise Conflict("Some products in the cart cannot be ordered.", unavailable_product_ids=unavailable)
    currencies = sorted({products[pid].currency for pid, _ in lines})
    if len(currencies) > 1:
        raise Conflict("An order has one currency; the cart mixes several.", currencies=currencies)
    currency = currencies[0]
    if currency not in settings.ORDERS_CURRENCIES:
        raise Conflict(f"Orders in {currency} are not accepted.", currency=currency, accepted=list(settings.ORDERS_CURRENCIES))
    order_lines = []
    for position, (pid, quantity) in enumerate(lines, start=1):
        product = products[pid]
        order_lines.append(
            OrderLine(
                position=position,
                product_id=pid,
                product_name=product.name,
                sku=product.sku,
                unit_price=product.price,
                quantity=quantity,
                line_total=(product.price * quantity).quantize(CENT),
            )
        )
    return currency, order_lines


def _same_checkout(order: Order, cart: CartReplica | None, cart_version: int | None) -> bool:
    """Is this request a retry of the checkout that made `order`?"""
    if cart_version is not None and cart_version <= order.cart_version:
        return True  # it names the cart state the order was made from (or an older one)
    items = cart.items if cart else []
    # The same contents, or an empty cart: the order's own placement emptied it.
    return not _cart_lines(items) or _fingerprint(_items(_cart_lines(items))) == order.cart_fingerprint


def _items(lines: list[tuple[uuid.UUID, int]]) -> list[dict[str, Any]]:
    return [{"product_id": str(pid), "quantity": quantity} for pid, quantity in lines]


def _history(order: Order, *, from_status: str | None, to_status: str, actor: Actor, reason: str) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order, from_status=from_status, to_status=to_status, at=timezone.now(), actor=actor.name, reason=reason
    )


@transaction.atomic
def place_order(
    *, user_id: Any, idempotency_key: str, shipping_address: dict[str, Any], cart_version: int | None = None
) -> Order:
    """Turn the caller's cart into a PENDING order and publish orders.order.placed.

    The same (user, key) again returns the same order; the same key with another cart is a CONFLICT.
    """
    errors = FieldErrors()
    check_idempotency_key(errors, idempotency_key)
    address = clean_address(errors, shipping_address)
    check_cart_version(errors, cart_version)
    errors.raise_if_any()
    customer = Actor.user(user_id)
    cart = wait_for_cart(customer.user_id, cart_version)

    lock_checkout(customer.user_id, idempotency_key)
    existing = Order.objects.filter(user_id=customer.user_id, idempotency_key=idempotency_key).first()
    if existing is not None:
        if _same_checkout(existing, cart, cart_version):
            return existing
        raise Conflict(
            "This idempotency key was used for another checkout.",
            fields={"idempotency_key": ["Already used for a different cart."]},
            order_id=str(existing.pk),
        )
    lines = _cart_lines(cart.items if cart else [])
    if cart is None or not lines:
        raise ValidationFailed("Your cart is empty.", fields={"cart": ["Add products before checking out."]})
    currency, order_lines = _snapshot(lines)
    order = Order.objects.create(
        user_id=customer.user_id,
        status=OrderStatus.PENDING,
        currency=currency,
        total=sum((line.line_total for line in order_lines), Decimal("0.00")),
        idempotency_key=idempotency_key,
        cart_id=cart.cart_id,
        cart_version=cart.version,
        cart_fingerprint=_fingerprint(_items(lines)),
        shipping_name=address["name"],
        shipping_line1=address["line1"],
        shipping_line2=address["line2"],
        shipping_city=address["city"],
        shipping_postal_code=address["postal_code"],
        shipping_country=address["country"],
    )
    for line in order_lines:
        line.order = order
    OrderLine.objects.bulk_create(order_lines)
    history = _history(order, from_status=None, to_status=OrderStatus.PENDING, actor=customer, reason="placed")
    record_event(
        topic=events.ORDER_TOPIC,
        event_type=events.ORDER_PLACED,
        aggregate_id=str(order.pk),
        payload=events.placed_payload(order, history),
    )
    return order


# --- transitions ---------------------------------------------------------------------------------


def _transition(order: Order, action: Action, actor: Actor, reason: str = "", *, also_save: tuple[str, ...] = ()) -> Order:
    transition = transition_for(action, order.status, actor.roles_for(order))
    history = _history(order, from_status=order.status, to_status=transition.target, actor=actor, reason=reason)
    order.status = transition.target
    order.save(update_fields=["status", "updated_at", *also_save])
    record_event(
        topic=events.ORDER_TOPIC,
        event_type=events.order_event_type(transition.target),
        aggregate_id=str(order.pk),
        payload=events.transition_payload(order, history),
    )
    return order


def _lock_for(actor: Actor, order_id: Any) -> Order:
    # A customer only ever finds their own orders (someone else's id is NOT_FOUND, not FORBIDDEN).
    owner = None if actor.is_staff or actor.user_id is None else actor.user_id
    return lock_order(order_id, owner_id=owner)


@transaction.atomic
def confirm_order(*, order_id: Any, reason: str = "stock reserved") -> Order:
    return _transition(lock_order(order_id), Action.CONFIRM, CATALOG, reason)


@transaction.atomic
def reject_order(*, order_id: Any, reason: str) -> Order:
    return _transition(lock_order(order_id), Action.REJECT, CATALOG, reason)


@transaction.atomic
def cancel_order(*, order_id: Any, actor: Actor, reason: str = "") -> Order:
    order = _lock_for(actor, order_id)
    return _transition(order, Action.CANCEL, actor, reason or "cancelled")


@transaction.atomic
def pay_order(*, order_id: Any, actor: Actor) -> Order:
    order = lock_order(order_id, owner_id=actor.user_id)  # only the owner pays
    transition_for(Action.PAY, order.status, actor.roles_for(order))  # refuse before charging
    provider = payments.provider()
    try:
        reference = provider.charge(payments.Charge(order_id=str(order.pk), amount=order.total, currency=order.currency))
    except payments.PaymentDeclined as declined:
        raise Conflict("The payment was declined.", reason=declined.reason, current_status=order.status) from declined
    order.payment_reference = reference
    return _transition(order, Action.PAY, actor, f"paid ({provider.name})", also_save=("payment_reference",))


@transaction.atomic
def ship_order(*, order_id: Any, actor: Actor) -> Order:
    return _transition(_lock_for(actor, order_id), Action.SHIP, actor, "shipped")


@transaction.atomic
def deliver_order(*, order_id: Any, actor: Actor) -> Order:
    return _transition(_lock_for(actor, order_id), Action.DELIVER, actor, "delivered")


def expire_pending_orders(*, timeout_seconds: float | None = None, limit: int = 500) -> list[uuid.UUID]:
    """Reject orders PENDING for longer than the timeout (ORDERS_PENDING_TIMEOUT_SECONDS).

    One short transaction per order, so a catalog reply racing the expiry waits on one row only;
    whichever commits first wins and the other sees a non-PENDING order. A reservation that
    arrives later is released by the catalog when it reads orders.order.rejected.
    """
    timeout = settings.ORDERS_PENDING_TIMEOUT_SECONDS if timeout_seconds is None else timeout_seconds
    cutoff = timezone.now() - dt.timedelta(seconds=timeout)
    pending = Order.objects.filter(status=OrderStatus.PENDING, created_at__lt=cutoff).order_by("pk")
    candidates = list(pending.values_list("pk", flat=True)[:limit])
    expired = []
    for order_id in candidates:
        with transaction.atomic():
            order = lock_order(order_id)
            if order.status != OrderStatus.PENDING:
                continue  # the catalog answered meanwhile
            _transition(order, Action.EXPIRE, EXPIRY, f"not confirmed within {timeout:g} s")
            expired.append(order_id)
    return expired
