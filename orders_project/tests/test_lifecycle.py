"""The order state machine through the API: saga replies, payment, shipping, cancellation,
expiry, every illegal transition refused with the current status, and who may do what."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from common.events.models import OutboxEvent
from django.utils import timezone
from orders import commands
from orders.models import Order, OrderEvent
from orders.state import TRANSITIONS, Action

from tests.conftest import ORDER, deliver

pytestmark = pytest.mark.django_db

CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { order { id status } } }"
PAY = "mutation($id: ID!) { payOrder(id: $id) { order { id status } } }"
SHIP = "mutation($id: ID!) { shipOrder(id: $id) { order { id status } } }"
DELIVER = "mutation($id: ID!) { deliverOrder(id: $id) { order { id status } } }"
MUTATIONS = {"cancel": CANCEL, "pay": PAY, "ship": SHIP, "deliver": DELIVER}


@pytest.fixture
def placed(customer, shop):
    def place() -> str:
        shop.cart(customer.user_id, {shop.product(price="5.00"): 2})
        return customer.place()["id"]

    return place


def reserved(order_id: str, *, event_id: uuid.UUID | None = None) -> set[str]:
    return deliver("catalog.stock.reserved", order_id, {"order_id": order_id, "lines": []}, event_id=event_id)


def rejected(order_id: str) -> set[str]:
    short = [{"product_id": str(uuid.uuid4()), "requested": 2, "available": 0}]
    return deliver("catalog.stock.rejected", order_id, {"order_id": order_id, "reason": "insufficient_stock", "short": short})


def status(order_id: str) -> str:
    return Order.objects.get(pk=order_id).status


def events_of(order_id: str) -> list[str]:
    return list(OutboxEvent.objects.filter(aggregate_id=order_id).order_by("id").values_list("event_type", flat=True))


def test_happy_path_records_every_transition(customer, manager, placed):
    order_id = placed()
    reserved(order_id)
    assert status(order_id) == "CONFIRMED"
    assert customer.data(PAY, {"id": order_id})["payOrder"]["order"]["status"] == "PAID"
    assert Order.objects.get(pk=order_id).payment_reference.startswith("test-")
    assert manager.data(SHIP, {"id": order_id})["shipOrder"]["order"]["status"] == "SHIPPED"
    assert manager.data(DELIVER, {"id": order_id})["deliverOrder"]["order"]["status"] == "DELIVERED"
    history = customer.data(ORDER, {"id": order_id})["order"]["history"]
    assert [(h["fromStatus"], h["toStatus"], h["actor"]) for h in history] == [
        (None, "PENDING", customer.user_id),
        ("PENDING", "CONFIRMED", "catalog"),
        ("CONFIRMED", "PAID", customer.user_id),
        ("PAID", "SHIPPED", manager.user_id),
        ("SHIPPED", "DELIVERED", manager.user_id),
    ]
    assert events_of(order_id) == [f"orders.order.{s}" for s in ("placed", "confirmed", "paid", "shipped", "delivered")]
    paid = OutboxEvent.objects.get(aggregate_id=order_id, event_type="orders.order.paid").payload
    assert paid["from_status"] == "CONFIRMED" and paid["to_status"] == "PAID" and paid["actor"] == customer.user_id


def test_a_redelivered_reservation_confirms_once(placed):
    order_id = placed()
    event_id = uuid.uuid4()
    assert reserved(order_id, event_id=event_id)
    assert not reserved(order_id, event_id=event_id)  # the same event again: no handler runs
    reserved(order_id)  # another copy with a new id: the order is no longer PENDING, ignored
    assert OrderEvent.objects.filter(order_id=order_id, to_status="CONFIRMED").count() == 1


def test_not_enough_stock_rejects_with_the_reason(customer, placed):
    order_id = placed()
    rejected(order_id)
    order = customer.data(ORDER, {"id": order_id})["order"]
    assert order["status"] == "REJECTED" and order["history"][-1]["reason"].startswith("insufficient_stock")
    rejected_event = OutboxEvent.objects.get(aggregate_id=order_id, event_type="orders.order.rejected")
    assert rejected_event.payload["items"] == [{"product_id": i["product_id"], "quantity": 2}
                                               for i in OutboxEvent.objects.get(aggregate_id=order_id,
                                                                                event_type="orders.order.placed").payload["items"]]


def test_pending_orders_expire_after_the_timeout(placed, settings):
    settings.ORDERS_PENDING_TIMEOUT_SECONDS = 60
    old, fresh = placed(), placed()
    Order.objects.filter(pk=old).update(created_at=timezone.now() - dt.timedelta(seconds=61))
    assert commands.expire_pending_orders() == [uuid.UUID(old)]
    assert status(old) == "REJECTED" and status(fresh) == "PENDING"
    assert OrderEvent.objects.get(order_id=old, to_status="REJECTED").actor == "expiry"
    # The reservation arrives late: ignored here (the catalog releases it on orders.order.rejected).
    reserved(old)
    assert status(old) == "REJECTED"
    assert commands.expire_pending_orders() == []


def test_expire_command_runs_once(placed):
    from io import StringIO

    from django.core.management import call_command

    order_id = placed()
    out = StringIO()
    call_command("expire_pending_orders", timeout=0, stdout=out)
    assert "Expired 1 order(s)." in out.getvalue() and status(order_id) == "REJECTED"


def test_owner_cancels_while_pending_or_confirmed_but_not_once_paid(customer, manager, placed):
    pending = placed()
    assert customer.data(CANCEL, {"id": pending})["cancelOrder"]["order"]["status"] == "CANCELLED"
    cancelled = OutboxEvent.objects.get(aggregate_id=pending, event_type="orders.order.cancelled").payload
    assert cancelled["items"][0]["quantity"] == 2 and cancelled["from_status"] == "PENDING"

    paid = placed()
    reserved(paid)
    customer.data(PAY, {"id": paid})
    error = customer.error(CANCEL, {"id": paid})
    assert error["extensions"]["code"] == "CONFLICT" and error["extensions"]["currentStatus"] == "PAID"
    # Staff may cancel until it ships.
    assert manager.data(CANCEL, {"id": paid})["cancelOrder"]["order"]["status"] == "CANCELLED"


@pytest.mark.parametrize("transition_target", ["PENDING", "CONFIRMED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "REJECTED"])
def test_every_illegal_transition_is_a_conflict_naming_the_status(customer, manager, placed, transition_target):
    order_id = placed()
    route = {"CONFIRMED": ["reserve"], "PAID": ["reserve", "pay"], "SHIPPED": ["reserve", "pay", "ship"],
             "DELIVERED": ["reserve", "pay", "ship", "deliver"], "CANCELLED": ["cancel"], "REJECTED": ["reject"]}
    for step in route.get(transition_target, []):
        if step == "reserve":
            reserved(order_id)
        elif step == "reject":
            rejected(order_id)
        else:
            (customer if step in ("pay", "cancel") else manager).data(MUTATIONS[step], {"id": order_id})
    assert status(order_id) == transition_target
    legal = {(t.action.value, t.source.value) for t in TRANSITIONS}
    before = OrderEvent.objects.filter(order_id=order_id).count()
    for action, mutation in MUTATIONS.items():
        if (action, transition_target) in legal:
            continue
        caller = manager if action in ("ship", "deliver", "cancel") else customer
        error = caller.error(mutation, {"id": order_id})
        assert error["extensions"]["code"] == "CONFLICT", (action, error)
        assert error["extensions"]["currentStatus"] == transition_target
    if (Action.CONFIRM.value, transition_target) not in legal:
        reserved(order_id)  # a stray saga reply changes nothing either
    assert status(order_id) == transition_target
    assert OrderEvent.objects.filter(order_id=order_id).count() == before


def test_customers_only_see_and_change_their_own_orders(as_user, customer, placed):
    order_id = placed()
    stranger = as_user("customer")
    for query in (ORDER, CANCEL, PAY):
        assert stranger.error(query, {"id": order_id})["extensions"]["code"] == "NOT_FOUND"
    assert stranger.error(ORDER, {"id": "not-a-uuid"})["extensions"]["code"] == "NOT_FOUND"
    for query in (SHIP, DELIVER):
        assert stranger.error(query, {"id": order_id})["extensions"]["code"] == "FORBIDDEN"
        assert customer.error(query, {"id": order_id})["extensions"]["code"] == "FORBIDDEN"
    assert status(order_id) == "PENDING"


def test_staff_see_every_order_and_only_the_owner_pays(manager, placed):
    order_id = placed()
    reserved(order_id)
    assert manager.data(ORDER, {"id": order_id})["order"]["status"] == "CONFIRMED"
    assert manager.error(PAY, {"id": order_id})["extensions"]["code"] == "NOT_FOUND"


def test_a_declined_payment_is_a_conflict_and_changes_nothing(customer, placed, settings):
    settings.ORDERS_PAYMENT_PROVIDER = "tests.test_lifecycle.DecliningProvider"
    order_id = placed()
    reserved(order_id)
    error = customer.error(PAY, {"id": order_id})
    assert error["extensions"]["code"] == "CONFLICT" and error["extensions"]["reason"] == "card expired"
    assert status(order_id) == "CONFIRMED"


class DecliningProvider:
    name = "declining"

    def charge(self, charge):
        from orders.payments import PaymentDeclined

        raise PaymentDeclined("card expired")
