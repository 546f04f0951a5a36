"""The catalog side of the checkout saga: all-or-nothing reservations keyed by order id, one
release of exactly what was reserved, refusals as reply events, and no oversell under concurrency."""

from __future__ import annotations

import uuid

import pytest
from catalog.models import Product, StockReservation
from common.events.envelope import Envelope
from common.events.handlers import handlers_for
from common.events.models import OutboxEvent
from common.events.processing import apply_event
from common.testing.threads import run_concurrently
from django.utils import timezone

pytestmark = pytest.mark.django_db


def order_event(kind: str, order_id: str, lines: list[tuple[Product, int]], *, event_id: uuid.UUID | None = None) -> Envelope:
    items = [{"product_id": str(p.pk), "sku": p.sku, "name": p.name, "quantity": q, "unit_price": str(p.price)}
             for p, q in lines]
    payload = {"order_id": order_id, "user_id": str(uuid.uuid4()), "items": items, "status": "PENDING"}
    if kind != "placed":
        payload = {"order_id": order_id, "from_status": "CONFIRMED", "to_status": kind.upper(), "items": items}
    return Envelope(event_id=event_id or uuid.uuid4(), event_type=f"orders.order.{kind}", schema_version=1,
                    aggregate_id=order_id, occurred_at=timezone.now(), producer="orders", correlation_id="t", payload=payload)


def handle(envelope: Envelope) -> set[str]:
    return apply_event(envelope, handlers_for(envelope.event_type))


def stock(*products: Product) -> list[int]:
    return [Product.objects.get(pk=p.pk).stock_quantity for p in products]


def replies(order_id: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(topic="catalog.stock", aggregate_id=order_id).order_by("id"))


def test_placing_reserves_every_line_and_records_the_reply_and_product_updates(make_product):
    lamp, bulb = make_product(stock_quantity=5), make_product(stock_quantity=3)
    order_id = str(uuid.uuid4())
    handle(order_event("placed", order_id, [(lamp, 2), (bulb, 3)]))
    assert stock(lamp, bulb) == [3, 0]
    [reply] = replies(order_id)
    assert reply.event_type == "catalog.stock.reserved"
    assert sorted(reply.payload["lines"], key=lambda line: line["quantity"]) == [
        {"product_id": str(lamp.pk), "quantity": 2}, {"product_id": str(bulb.pk), "quantity": 3}]
    # Read models (orders, cart) hear the new stock through the bridge.
    updates = OutboxEvent.objects.filter(topic="catalog.product", event_type="catalog.product.updated")
    assert sorted(e.payload["stock_quantity"] for e in updates) == [0, 3]


def test_not_enough_stock_reserves_nothing_and_replies_rejected(make_product):
    lamp, bulb = make_product(stock_quantity=5), make_product(stock_quantity=1)
    order_id = str(uuid.uuid4())
    handle(order_event("placed", order_id, [(lamp, 2), (bulb, 3)]))
    assert stock(lamp, bulb) == [5, 1]
    [reply] = replies(order_id)
    assert reply.event_type == "catalog.stock.rejected"
    assert reply.payload["short"] == [{"product_id": str(bulb.pk), "requested": 3, "available": 1}]
    assert StockReservation.objects.get(pk=order_id).status == "REJECTED"
    assert not OutboxEvent.objects.filter(topic="catalog.product", event_type="catalog.product.updated").exists()


def test_unknown_and_inactive_products_are_short(make_product):
    inactive = make_product(stock_quantity=9, is_active=False)
    ghost = make_product(stock_quantity=9)
    order_id = str(uuid.uuid4())
    envelope = order_event("placed", order_id, [(inactive, 1), (ghost, 1)])
    ghost_id = ghost.pk
    ghost.delete()
    handle(envelope)
    assert replies(order_id)[0].event_type == "catalog.stock.rejected"
    assert {s["product_id"] for s in replies(order_id)[0].payload["short"]} == {str(inactive.pk), str(ghost_id)}


def test_an_unreadable_order_is_rejected_not_retried(make_product):
    order_id = str(uuid.uuid4())
    envelope = order_event("placed", order_id, [(make_product(), 1)])
    envelope.payload["items"][0]["quantity"] = -4
    handle(envelope)
    [reply] = replies(order_id)
    assert reply.event_type == "catalog.stock.rejected" and reply.payload["reason"].startswith("invalid_order")


def test_reserving_twice_reserves_once(make_product):
    lamp = make_product(stock_quantity=5)
    order_id = str(uuid.uuid4())
    handle(order_event("placed", order_id, [(lamp, 2)]))
    handle(order_event("placed", order_id, [(lamp, 2)]))  # a second copy (another event id)
    assert stock(lamp) == [3] and len(replies(order_id)) == 1


def test_cancelling_releases_exactly_what_was_reserved_once(make_product):
    lamp = make_product(stock_quantity=5)
    order_id = str(uuid.uuid4())
    handle(order_event("placed", order_id, [(lamp, 4)]))
    cancelled_id = uuid.uuid4()
    assert handle(order_event("cancelled", order_id, [(lamp, 4)], event_id=cancelled_id))
    assert not handle(order_event("cancelled", order_id, [(lamp, 4)], event_id=cancelled_id))  # redelivered
    handle(order_event("cancelled", order_id, [(lamp, 4)]))  # a duplicate with another id
    handle(order_event("rejected", order_id, [(lamp, 4)]))
    assert stock(lamp) == [5]
    assert [r.event_type for r in replies(order_id)] == ["catalog.stock.reserved", "catalog.stock.released"]
    assert replies(order_id)[1].payload["lines"] == [{"product_id": str(lamp.pk), "quantity": 4}]


def test_rejecting_an_order_that_reserved_nothing_releases_nothing(make_product):
    lamp = make_product(stock_quantity=1)
    order_id = str(uuid.uuid4())
    handle(order_event("placed", order_id, [(lamp, 3)]))
    handle(order_event("rejected", order_id, [(lamp, 3)]))
    assert stock(lamp) == [1] and [r.event_type for r in replies(order_id)] == ["catalog.stock.rejected"]


def test_an_expired_order_gets_its_late_reservation_released(make_product):
    # orders rejected the order on timeout; the catalog reads placed, then rejected (same partition).
    lamp = make_product(stock_quantity=2)
    order_id = str(uuid.uuid4())
    handle(order_event("placed", order_id, [(lamp, 2)]))
    assert stock(lamp) == [0]
    handle(order_event("rejected", order_id, [(lamp, 2)]))
    assert stock(lamp) == [2]


def test_a_release_seen_first_means_the_placement_reserves_nothing(make_product):
    lamp = make_product(stock_quantity=2)
    order_id = str(uuid.uuid4())
    handle(order_event("cancelled", order_id, [(lamp, 2)]))
    handle(order_event("placed", order_id, [(lamp, 2)]))
    assert stock(lamp) == [2] and replies(order_id) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_oversell(make_product):
    from catalog import reservations

    shared, other = make_product(stock_quantity=10), make_product(stock_quantity=100)

    def reserve(n: int) -> bool:
        # Lines in both orders (locked in pk order inside): no deadlock, no oversell.
        lines = [(shared.pk, 1), (other.pk, 1)] if n % 2 else [(other.pk, 1), (shared.pk, 1)]
        try:
            reservations.reserve_stock(order_id=uuid.uuid4(), lines=lines)
            return True
        except reservations.Conflict:
            return False

    results = run_concurrently([lambda n=n: reserve(n) for n in range(20)])
    assert results.count(True) == 10 and results.count(False) == 10, results
    assert stock(shared, other) == [0, 90]
    assert StockReservation.objects.filter(status="RESERVED").count() == 10

def test_reservations_admin_is_read_only(admin_client, make_product):
    order_id = str(uuid.uuid4())
    handle(order_event("placed", order_id, [(make_product(stock_quantity=3), 1)]))
    assert admin_client.get("/admin/catalog/stockreservation/").status_code == 200
    assert admin_client.get(f"/admin/catalog/stockreservation/{order_id}/change/").status_code == 200
    assert admin_client.get("/admin/catalog/stockreservation/add/").status_code == 403
