"""Orders against the real broker: relay and consumer running, replicas and the read model fed
through Kafka, the saga replies applied, and `rebuild_read_models` equal to the live read model."""

from __future__ import annotations

import uuid

import pytest
from common.events import clients
from common.events.envelope import Envelope
from common.events.models import OutboxEvent
from common.testing.polling import wait_until
from django.core.management import call_command
from django.utils import timezone
from orders import commands
from orders.models import CartReplica, Order, OrderSummary, ProductReplica

pytestmark = pytest.mark.usefixtures("transactional_db")

TOPICS = ["catalog.product", "catalog.stock", "cart.cart", "orders.order"]


def publish(event_type: str, aggregate_id: str, payload: dict) -> None:
    """What the catalog or the cart would publish, through the broker."""
    envelope = Envelope(
        event_id=uuid.uuid4(), event_type=event_type, schema_version=1, aggregate_id=aggregate_id,
        occurred_at=timezone.now(), producer=event_type.split(".")[0], correlation_id="test", payload=payload,
    )
    producer = clients.producer(role="test")
    try:
        producer.send(envelope.topic, key=aggregate_id.encode(), value=envelope.to_json()).get(timeout=10)
    finally:
        producer.close(timeout=2)


def product_event(product_id: str, price: str) -> dict:
    return {"id": product_id, "sku": f"B-{product_id[:6]}", "name": "Broker lamp", "description": "", "price": price,
            "currency": "USD", "stock_quantity": 5, "category_id": None, "is_active": True, "updated_at": None}


def summaries() -> list[tuple]:
    return list(OrderSummary.objects.order_by("order_id").values_list(
        "order_id", "user_id", "status", "currency", "total", "items", "shipping_address", "history", "created_at", "updated_at"))


def test_saga_replies_and_read_model_through_the_broker_and_rebuild_equals_live(run_relay, run_consumer):
    from django.conf import settings

    call_command("create_topics", stdout=open("/dev/null", "w"))  # noqa: SIM115
    run_relay()
    run_consumer(topics=TOPICS)
    lamp = str(uuid.uuid4())
    publish("catalog.product.created", lamp, product_event(lamp, "8.00"))
    users = [str(uuid.uuid4()) for _ in range(3)]
    for user_id in users:
        publish("cart.cart.item_added", f"cart-{user_id}", {
            "cart_id": f"cart-{user_id}", "user_id": user_id, "version": 1,
            "items": [{"product_id": lamp, "quantity": 2}], "updated_at": timezone.now().isoformat()})
    wait_until(lambda: ProductReplica.objects.filter(pk=lamp).exists() and CartReplica.objects.count() >= 3,
             what="replicas fed from the broker")
    settings.ORDERS_CART_WAIT_SECONDS = 10
    address = {"name": "Ada", "line1": "1 Road", "city": "Paris", "postal_code": "75001", "country": "FR"}
    orders = [commands.place_order(user_id=u, idempotency_key="k", shipping_address=address, cart_version=1) for u in users]
    confirmed, rejected, pending = (str(o.pk) for o in orders)
    publish("catalog.stock.reserved", confirmed, {"order_id": confirmed, "lines": [{"product_id": lamp, "quantity": 2}]})
    publish("catalog.stock.rejected", rejected, {"order_id": rejected, "reason": "insufficient_stock",
                                                 "short": [{"product_id": lamp, "requested": 2, "available": 1}]})
    def replied() -> bool:
        return (Order.objects.get(pk=confirmed).status, Order.objects.get(pk=rejected).status) == ("CONFIRMED", "REJECTED")

    wait_until(replied, what="the saga replies applied")
    commands.cancel_order(order_id=pending, actor=commands.Actor.user(users[2]))
    # The read model catches up with every event the relay publishes.
    expected = {confirmed: "CONFIRMED", rejected: "REJECTED", pending: "CANCELLED"}
    wait_until(lambda: {str(k): v for k, v in OrderSummary.objects.values_list("order_id", "status")}.items() >= expected.items()
             and not OutboxEvent.objects.filter(sent_at__isnull=True).exists(), what="the read model caught up")
    wait_until(lambda: len(OrderSummary.objects.get(pk=pending).history) == 2, what="the cancellation projected")
    live = summaries()
    live_products = list(ProductReplica.objects.values_list("product_id", "price", "is_deleted").order_by("product_id"))

    call_command("rebuild_read_models", idle_seconds=2, stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert summaries() == live
    assert list(ProductReplica.objects.values_list("product_id", "price", "is_deleted").order_by("product_id")) == live_products
    assert CartReplica.objects.filter(cart_id__in=[f"cart-{u}" for u in users]).count() == 3
