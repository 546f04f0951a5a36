"""The cart's events against a real broker (Tansu): the Redis-stream outbox relay, relay
downtime, two relays, the consumer with Redis idempotency, and the worker processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from cart import commands, queries, store
from common.events import clients
from common.events.envelope import Envelope
from common.events.redis_outbox import RedisOutboxRelay
from common.testing.polling import wait_until
from common.testing.threads import Background
from django.db import connection

from tests.conftest import product_event
from tests.test_checkout import order_placed

pytestmark = pytest.mark.usefixtures("transactional_db")

PROJECT = Path(__file__).resolve().parents[1]


def relay(**options) -> RedisOutboxRelay:
    return RedisOutboxRelay(store.client(), stream=store.outbox_stream(), **options)


def of_carts(records, cart_ids) -> list[Envelope]:
    return [Envelope.from_json(r.value) for r in records if r.key.decode() in cart_ids]


def produce(topic: str, *envelopes: Envelope) -> None:
    producer = clients.producer(role="test")
    for envelope in envelopes:
        producer.send(topic, key=envelope.aggregate_id.encode(), value=envelope.to_json()).get(timeout=10)
    producer.close()


def test_relay_publishes_each_event_once_in_order_and_trims_after_the_ack(events_settings, topic_reader, product):
    lamp = product(stock_quantity=100)
    reader = topic_reader("cart.cart")
    background = Background(relay())
    try:
        cart = commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=1)
        for quantity in range(2, 6):
            commands.update_cart_item(cart_id=cart.id, product_id=lamp, quantity=quantity)
        records = reader.read_until(lambda rs: len(of_carts(rs, {cart.id})) >= 5, what="5 cart events")
        wait_until(lambda: store.client().xlen(store.outbox_stream()) == 0, what="the stream trimmed")
    finally:
        background.stop()
    events = of_carts(records, {cart.id})
    assert [e.payload["version"] for e in events] == [1, 2, 3, 4, 5]
    assert [e.event_type for e in events] == ["cart.cart.item_added"] + ["cart.cart.item_updated"] * 4
    record = next(r for r in records if r.key == cart.id.encode())
    headers = dict(record.headers)
    assert headers["event_type"] == b"cart.cart.item_added" and headers["event_id"] == str(events[0].event_id).encode()
    assert len({r.partition for r in records if r.key == cart.id.encode()}) == 1


def test_relay_down_events_wait_and_arrive_later_none_lost_none_twice(events_settings, topic_reader, product):
    lamp = product(stock_quantity=1000)
    carts = [commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=1) for _ in range(5)]
    for cart in carts:
        for quantity in (2, 3):
            commands.update_cart_item(cart_id=cart.id, product_id=lamp, quantity=quantity)
    assert store.client().xlen(store.outbox_stream()) == 15  # nothing relayed: waiting in Redis
    reader = topic_reader("cart.cart")
    ids = {cart.id for cart in carts}
    background = Background(relay(batch_size=4))  # several batches
    try:
        records = reader.read_until(lambda rs: len(of_carts(rs, ids)) >= 15, what="the 15 waiting events")
        wait_until(lambda: store.client().xlen(store.outbox_stream()) == 0, what="the stream trimmed")
    finally:
        background.stop()
    events = of_carts(records, ids)
    assert Counter(e.event_id for e in events).most_common(1)[0][1] == 1
    for cart in carts:
        assert [e.payload["version"] for e in events if e.aggregate_id == cart.id] == [1, 2, 3]


def test_two_relays_publish_each_event_exactly_once(events_settings, topic_reader, product):
    lamp = product(stock_quantity=1000)
    reader = topic_reader("cart.cart")
    first, second = relay(batch_size=3), relay(batch_size=3)
    running = [Background(first), Background(second)]
    try:
        cart = commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=1)
        for quantity in range(2, 31):
            commands.update_cart_item(cart_id=cart.id, product_id=lamp, quantity=quantity)
        records = reader.read_until(lambda rs: len(of_carts(rs, {cart.id})) >= 30, what="30 events")
        wait_until(lambda: store.client().xlen(store.outbox_stream()) == 0, what="the stream trimmed")
    finally:
        for background in running:
            background.stop()
    assert [e.payload["version"] for e in of_carts(records, {cart.id})] == list(range(1, 31))
    assert first.stats.standby + second.stats.standby > 0  # one held the lease, the other stood by


def test_consumer_applies_catalog_and_order_events_once_even_when_redelivered(events_settings, run_consumer, product):
    lamp = str(uuid.uuid4())
    created = product_event("catalog.product.created", lamp, price="4.00", stock_quantity=10)
    produce("catalog.product", created)
    run_consumer(topics=["catalog.product", "orders.order"])
    wait_until(lambda: queries.products_by_id([lamp]), timeout=30, what="the read model has the product")
    cart = commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=3)

    placed = order_placed({"id": cart.id, "version": cart.version}, None, [(lamp, 1)])
    produce("orders.order", placed, placed)  # the same event twice: redelivery
    produce("catalog.product", product_event("catalog.product.updated", lamp, price="5.00", stock_quantity=10))
    wait_until(lambda: queries.products_by_id([lamp])[lamp].price == 5, timeout=30, what="the price update")
    current = queries.get_cart(cart.id)
    assert [(line.product_id, line.quantity) for line in current.items] == [(lamp, 2)]  # one lamp taken, once
    assert current.version == 2


def test_worker_processes_carry_a_mutation_to_kafka_and_stop_on_sigterm(events_settings, topic_reader, product,
                                                                       settings):
    lamp = product()
    env = {**os.environ, "CART_REDIS_URL": settings.CART_REDIS_URL, "CART_REDIS_PREFIX": settings.CART_REDIS_PREFIX,
           "KAFKA_BOOTSTRAP_SERVERS": settings.KAFKA_BOOTSTRAP_SERVERS, "PYTHONUNBUFFERED": "1",
           "DJANGO_SETTINGS_MODULE": "cart_project.settings.dev",
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}"}
    workers = [subprocess.Popen([sys.executable, "manage.py", name], cwd=PROJECT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for name in ("relay_outbox", "consume")]
    try:
        reader = topic_reader("cart.cart")
        cart = commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=2)
        [event] = of_carts(reader.read_until(lambda rs: of_carts(rs, {cart.id}), timeout=60), {cart.id})
        assert event.payload["items"] == [{"product_id": lamp, "quantity": 2}]
        # The consumer process applies catalog events to the read model in Redis.
        desk = str(uuid.uuid4())
        produce("catalog.product", product_event("catalog.product.created", desk, price="7.00"))
        applied = wait_until(lambda: queries.products_by_id([desk]), timeout=60, what="the consume process applied it")
        assert applied[desk].price == 7
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=30)[0].decode() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert "Traceback" not in "".join(outputs), outputs
    assert json.loads(event.to_json())["producer"] == "cart"


def test_broker_down_the_events_wait_in_redis_and_are_published_once_it_is_back(events_settings, kafka_broker,
                                                                                 topic_reader, product, read_metrics):
    lamp = product(stock_quantity=100)
    background = Background(relay())
    try:
        kafka_broker.stop()
        cart = commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=1)
        for quantity in (2, 3):
            commands.update_cart_item(cart_id=cart.id, product_id=lamp, quantity=quantity)
        wait_until(lambda: background.worker.stats.failures > 0, timeout=30, what="the relay to notice the outage")
        assert store.client().xlen(store.outbox_stream()) == 3  # kept until a broker acknowledges them
        # ... and /metrics/ says so while the relay runs and fails (the alert's input, docs/operations.md)
        metrics = read_metrics()
        assert 'events_outbox_pending{service="cart"} 3' in metrics
        age = re.search(r'^events_outbox_oldest_pending_seconds\{service="cart"\} (\S+)$', metrics, re.M)
        assert age and float(age.group(1)) > 0
        kafka_broker.start()  # same port, empty (memory storage)
        reader = topic_reader("cart.cart")
        records = reader.read_until(lambda rs: len(of_carts(rs, {cart.id})) >= 3, timeout=60, what="the 3 events")
        wait_until(lambda: store.client().xlen(store.outbox_stream()) == 0, what="the stream trimmed")
        assert 'events_outbox_pending{service="cart"} 0' in read_metrics()
    finally:
        if not kafka_broker.running:
            kafka_broker.start()
        background.stop()
    assert [e.payload["version"] for e in of_carts(records, {cart.id})] == [1, 2, 3]


def test_cart_redis_down_the_consumer_waits_and_applies_once_it_is_back(events_settings, run_consumer, own_redis):
    lamp = str(uuid.uuid4())
    own_redis.stop()
    consumer = run_consumer(topics=["catalog.product"])
    outages = []
    recover = consumer.applier.recover
    consumer.applier.recover = lambda: (outages.append(1), recover())  # called on each transient error
    produce("catalog.product", product_event("catalog.product.created", lamp, price="2.00"))
    wait_until(lambda: len(outages) >= 2, timeout=45, what="the consumer to wait out the Redis outage")
    own_redis.start()
    wait_until(lambda: queries.products_by_id([lamp]), timeout=45, what="the event applied after the outage")
    assert consumer.stats.dead_lettered == 0 and consumer.stats.retries == 0  # waited, not retried as a failure


def test_a_standby_relay_takes_over_when_the_lease_of_a_dead_one_expires(events_settings, topic_reader, product):
    lamp = product()
    # A relay that died holding the lease: nobody renews it, it expires after 1.5 s.
    store.client().set(f"{store.outbox_stream()}:relay-lock", "dead-relay", px=1500)
    cart = commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=1)
    reader = topic_reader("cart.cart")
    standby = relay()
    background = Background(standby)
    try:
        wait_until(lambda: standby.stats.standby > 0, what="the relay standing by")
        assert store.client().xlen(store.outbox_stream()) == 1
        records = reader.read_until(lambda rs: of_carts(rs, {cart.id}), timeout=30, what="the event after takeover")
    finally:
        background.stop()
    assert len(of_carts(records, {cart.id})) == 1
    assert not store.client().exists(f"{store.outbox_stream()}:relay-lock")  # released on a clean stop


def test_a_relay_that_fails_after_the_ack_publishes_again_with_the_same_event_id(events_settings, topic_reader,
                                                                                 product):
    import redis

    lamp = product()
    cart = commands.add_to_cart(cart_id=None, user_id=None, product_id=lamp, quantity=1)
    reader = topic_reader("cart.cart")
    flaky = relay()
    real_xdel = flaky.client.xdel
    failures = []

    class FlakyClient:  # the trim after the broker's ack fails once (a crash at the worst moment)
        def __getattr__(self, name):
            return getattr(store.client(), name)

        def xdel(self, *args):
            if not failures:
                failures.append(1)
                raise redis.ConnectionError("lost the connection after the ack")
            return real_xdel(*args)

    flaky.client = FlakyClient()
    background = Background(flaky)
    try:
        records = reader.read_until(lambda rs: len(of_carts(rs, {cart.id})) >= 2, timeout=30, what="the redelivery")
        wait_until(lambda: store.client().xlen(store.outbox_stream()) == 0, what="the stream trimmed")
    finally:
        background.stop()
    first, second = of_carts(records, {cart.id})[:2]
    assert first.event_id == second.event_id  # at least once: consumers deduplicate by event id


def test_the_relay_beats_for_container_health_checks(events_settings, settings, tmp_path):
    from common.events.heartbeat import is_fresh

    settings.EVENTS_HEARTBEAT_FILE = str(tmp_path / "alive")
    background = Background(relay(block_ms=100))
    try:
        wait_until(lambda: is_fresh(str(tmp_path / "alive"), 5), what="the heartbeat file")
    finally:
        background.stop()
