"""The event backbone against a real broker (Tansu) and real PostgreSQL: relay, consumers,
dead letters, broker outages, redelivery, rebuilds and process shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from catalog import commands
from catalog import events as catalog_events
from catalog.models import ProductStockActivity
from common.events import clients
from common.events.envelope import Envelope
from common.events.models import OutboxEvent, ProcessedEvent
from common.events.testing import unique_topic
from common.testing.polling import wait_until
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

pytestmark = pytest.mark.usefixtures("transactional_db")

CREATE = """mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }"""
UPDATE = """mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { product { id } } }"""


def envelope_of(record) -> Envelope:
    return Envelope.from_json(record.value)


def records_for(records, aggregate_id: object) -> list:
    return [r for r in records if r.key == str(aggregate_id).encode()]


def all_sent() -> bool:
    return not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


def stock_event(product_id: uuid.UUID, *, delta: int, event_id: uuid.UUID | None = None, **payload) -> Envelope:
    """An event of the old stream shape (`catalog.product.stock_adjusted`), which handlers still read."""
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        event_type=catalog_events.LEGACY_PRODUCT_STOCK_ADJUSTED,
        schema_version=1,
        aggregate_id=str(product_id),
        occurred_at=timezone.now(),
        producer="catalog",
        correlation_id="test",
        payload={"sku": "T-1", "category_id": None, "is_active": True, "stock_quantity": 10, "delta": delta, **payload},
    )


def produce(topic: str, *values: bytes, key: bytes = b"k") -> None:
    producer = clients.producer(role="test")
    try:
        for value in values:
            producer.send(topic, key=key, value=value).get(timeout=10)
    finally:
        producer.close(timeout=2)


def activity(product_id: uuid.UUID) -> ProductStockActivity | None:
    return ProductStockActivity.objects.filter(pk=product_id).first()


def make_products(count: int) -> list:
    return [commands.create_product(sku=f"BR-{uuid.uuid4().hex[:10]}", name="Lamp", price=Decimal("5.00"), stock_quantity=100)
            for _ in range(count)]


def product_rows(aggregate_id: object) -> OutboxEvent:
    return OutboxEvent.objects.filter(topic="catalog.product", aggregate_id=str(aggregate_id))


def assert_published_once_in_order(records, aggregate_ids) -> None:
    """Every catalog.product outbox row of these aggregates is on the topic exactly once, in outbox order."""
    for aggregate_id in aggregate_ids:
        expected = [str(e) for e in product_rows(aggregate_id).order_by("id").values_list("event_id", flat=True)]
        mine = records_for(records, aggregate_id)
        published = [str(envelope_of(r).event_id) for r in mine]
        assert published == expected, f"aggregate {aggregate_id}: published {published} expected {expected}"
        assert len({r.partition for r in mine}) == 1, "one aggregate, one partition"


def test_create_topics_creates_every_topic_with_its_partitions(events_settings) -> None:
    call_command("create_topics", stdout=open(os.devnull, "w"))  # noqa: SIM115
    consumer = clients.consumer(group_id=None, role="test")
    try:
        for topic in ("catalog.product", "catalog.category", "catalog.product.dlq"):
            assert wait_until(lambda t=topic: consumer.partitions_for_topic(t), what=topic) == {0, 1, 2}
    finally:
        consumer.close(autocommit=False)


# --- relay ---------------------------------------------------------------------------------------


def test_mutation_publishes_exactly_one_event_with_the_envelope(gql, run_relay, topic_reader) -> None:
    reader = topic_reader("catalog.product")
    run_relay()
    body = gql.execute(
        CREATE,
        {"input": {"sku": "PUB-1", "name": "Desk lamp", "price": "19.90", "stockQuantity": 3}},
        HTTP_X_CORRELATION_ID="order-flow-7",
    )
    product_id = body["data"]["createProduct"]["product"]["id"]
    # A second change of the same aggregate lands after the first in the same partition: once it is
    # read, everything published before it for this product has been read too.
    gql.data(UPDATE, {"id": product_id, "input": {"name": "Desk lamp II"}})
    records = reader.read_until(lambda rs: len(records_for(rs, product_id)) >= 2, what="created + updated")
    created, updated = records_for(records, product_id)
    envelope = envelope_of(created)
    outbox_row = OutboxEvent.objects.get(event_id=envelope.event_id)
    assert envelope.event_type == "catalog.product.created"
    assert envelope.aggregate_id == product_id
    assert envelope.producer == "catalog"
    assert envelope.correlation_id == "order-flow-7"
    assert envelope.schema_version == 1
    assert envelope.payload["sku"] == "PUB-1" and envelope.payload["price"] == "19.90"
    assert envelope.occurred_at == outbox_row.occurred_at
    assert dict(created.headers)["event_type"] == b"catalog.product.created"
    assert dict(created.headers)["event_id"] == str(envelope.event_id).encode()
    assert envelope_of(updated).event_type == "catalog.product.updated"
    wait_until(all_sent, what="outbox rows marked sent")
    assert_published_once_in_order(records, [product_id])


def test_failed_mutation_publishes_nothing(gql, run_relay, topic_reader) -> None:
    reader = topic_reader("catalog.product")
    run_relay()
    marker = make_products(1)[0]
    failed = gql.error(CREATE, {"input": {"sku": "FAIL-1", "name": "x", "price": "-3"}})
    assert failed["extensions"]["code"] == "BAD_USER_INPUT"
    commands.adjust_stock(product_id=marker.pk, delta=1)  # published after the failed attempt
    records = reader.read_until(lambda rs: len(records_for(rs, marker.pk)) == 2, what="marker events")
    assert not [r for r in records if b'"FAIL-1"' in r.value]


def test_broker_down_loses_nothing_and_keeps_order(kafka_broker, run_relay, topic_reader) -> None:
    relay = run_relay()
    kafka_broker.stop()
    try:
        products = make_products(3)
        for round_number in range(4):
            for product in products:
                commands.adjust_stock(product_id=product.pk, delta=round_number + 1)
        commands.update_product(product_id=products[0].pk, changes={"name": "Renamed while down"})
        wait_until(lambda: relay.stats.failures >= 1, what="the relay to fail against the stopped broker")
        # 3 created, then per adjustment the model-state event and the catalog.stock domain event.
        assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 3 + 12 * 2 + 1
    finally:
        kafka_broker.start()  # same port, empty memory: topics are recreated by the relay
    wait_until(all_sent, timeout=30, what="the relay to publish the backlog after the broker came back")
    for product in products:  # markers: published after every earlier row was acknowledged
        commands.adjust_stock(product_id=product.pk, delta=-1)
    reader = topic_reader("catalog.product")
    records = reader.read_until(
        lambda rs: all(len(records_for(rs, p.pk)) == product_rows(p.pk).count() for p in products),
        timeout=30, what="every event of the outage",
    )
    assert relay.stats.published >= 28 + 3 * 2
    assert_published_once_in_order(records, [p.pk for p in products])


def test_two_relays_publish_each_event_exactly_once(run_relay, topic_reader) -> None:
    products = make_products(4)
    for _ in range(20):
        for product in products:
            commands.adjust_stock(product_id=product.pk, delta=1)
    total = OutboxEvent.objects.count()  # both topics; catalog.product has 1 + 20 per product
    first, second = run_relay(batch_size=7), run_relay(batch_size=7)
    wait_until(all_sent, timeout=30, what="both relays to drain the outbox")
    for product in products:  # markers, see the broker-down test
        commands.adjust_stock(product_id=product.pk, delta=1)
    reader = topic_reader("catalog.product")
    records = reader.read_until(
        lambda rs: all(len(records_for(rs, p.pk)) >= 22 for p in products), timeout=30, what="all events"
    )
    mine = [r for p in products for r in records_for(records, p.pk)]
    counts = Counter(str(envelope_of(r).event_id) for r in mine)
    assert len(counts) == 22 * len(products) and set(counts.values()) == {1}, "each event exactly once"
    # A relay counts a row after marking it sent, which can trail the record reaching the topic.
    markers = 2 * len(products)
    wait_until(lambda: first.stats.published + second.stats.published >= total + markers,
             what="both relays to count what they published")
    assert first.stats.published + second.stats.published == total + markers
    assert first.stats.standby + second.stats.standby > 0, "the relays really ran side by side"
    assert_published_once_in_order(records, [p.pk for p in products])


# --- consumers -----------------------------------------------------------------------------------


def test_redelivered_event_has_one_effect(run_consumer) -> None:
    topic, product_id = unique_topic(), uuid.uuid4()
    event = stock_event(product_id, delta=3)
    produce(topic, event.to_json(), event.to_json(), key=str(product_id).encode())
    consumer = run_consumer(topics=[topic])
    wait_until(lambda: consumer.stats.processed + consumer.stats.duplicates == 2, what="both deliveries")
    row = activity(product_id)
    assert (row.adjustments, row.units_added, row.stock_quantity) == (1, 3, 10)
    assert (consumer.stats.processed, consumer.stats.duplicates) == (1, 1)
    assert ProcessedEvent.objects.filter(event_id=event.event_id).count() == 1


def test_consumer_killed_between_effect_and_commit_does_not_apply_twice(events_settings, run_consumer) -> None:
    from common.events.consumer import EventConsumer

    topic, product_id, group = unique_topic(), uuid.uuid4(), f"crash-{uuid.uuid4().hex[:8]}"
    produce(topic, stock_event(product_id, delta=4).to_json(), key=str(product_id).encode())
    crashed = EventConsumer(topics=[topic], group_id=group)
    try:
        records = wait_until(crashed.poll, timeout=30, what="the first consumer to receive the event")
        crashed.process(records)  # the handler's transaction commits ...
        assert activity(product_id).adjustments == 1
    finally:
        crashed.close(commit=False)  # ... and the process dies before committing the offset
    restarted = run_consumer(topics=[topic], group_id=group)
    wait_until(lambda: restarted.stats.duplicates == 1, timeout=30, what="the redelivery after the restart")
    assert restarted.stats.processed == 0
    assert (activity(product_id).adjustments, activity(product_id).units_added) == (1, 4)


def test_poison_messages_go_to_the_dead_letter_topic_and_the_consumer_continues(run_consumer, topic_reader) -> None:
    topic, product_id = unique_topic(), uuid.uuid4()
    not_an_envelope = json.dumps({"event_type": "catalog.product.stock_adjusted"}).encode()
    handler_fails = stock_event(product_id, delta=2, sku=None).to_json()  # valid envelope, payload the handler rejects
    good = stock_event(product_id, delta=5)
    produce(topic, b"\xffnot json", not_an_envelope, handler_fails, good.to_json(), key=str(product_id).encode())
    consumer = run_consumer(topics=[topic])
    wait_until(lambda: activity(product_id), timeout=30, what="the good event after the poison ones")
    assert activity(product_id).units_added == 5  # only the good event had an effect
    dead = topic_reader(f"{topic}.dlq").read_until(lambda rs: len(rs) >= 3, what="three dead letters")
    letters = [json.loads(r.value) for r in dead]
    assert [letter["kind"] for letter in letters] == ["malformed", "malformed", "handler_error"]
    assert "not JSON" in letters[0]["error"] and letters[0]["value_base64"]
    assert "missing field" in letters[1]["error"] and letters[1]["value"] == not_an_envelope.decode()
    assert "'sku'" in letters[2]["error"] and letters[2]["attempts"] == 3
    assert [letter["original"]["offset"] for letter in letters] == [0, 1, 2]
    assert {letter["original"]["topic"] for letter in letters} == {topic}
    assert consumer.stats.dead_lettered == 3 and consumer.stats.processed == 1
    assert not ProcessedEvent.objects.filter(event_type="catalog.product.stock_adjusted", event_id__in=[
        uuid.UUID(json.loads(handler_fails)["event_id"])]).exists(), "a dead-lettered event is not marked processed"


def test_mutations_reach_the_read_model_and_rebuild_replays_them(run_relay, run_consumer) -> None:
    run_relay()
    consumer = run_consumer(topics=["catalog.product", "catalog.stock"])
    [product] = make_products(1)
    commands.adjust_stock(product_id=product.pk, delta=5)
    commands.adjust_stock(product_id=product.pk, delta=-7)
    # Movements (catalog.stock) and state (catalog.product) arrive on their own topics: wait for both.
    wait_until(lambda: (row := activity(product.pk)) and (row.adjustments, row.stock_quantity) == (2, 98),
             timeout=30, what="the read model")
    row = activity(product.pk)
    assert (row.units_added, row.units_removed, row.stock_quantity) == (5, 7, 98)
    consumer_stats = consumer.stats
    # Damage the read model, then rebuild it from the topic alone.
    ProductStockActivity.objects.filter(pk=product.pk).update(adjustments=99, units_added=0)
    ProductStockActivity.objects.create(product_id=uuid.uuid4(), sku="GHOST", last_event_at=timezone.now())
    call_command("rebuild_read_models", idle_seconds=1.5)
    row = activity(product.pk)
    assert (row.adjustments, row.units_added, row.units_removed, row.stock_quantity) == (2, 5, 7, 98)
    assert not ProductStockActivity.objects.filter(sku="GHOST").exists()
    # The live consumer keeps going after a rebuild, without applying the replayed events again.
    commands.adjust_stock(product_id=product.pk, delta=1)
    wait_until(lambda: (activity(product.pk).adjustments, activity(product.pk).stock_quantity) == (3, 99),
             timeout=30, what="the live consumer after the rebuild")
    assert activity(product.pk).units_added == 6
    assert consumer_stats.dead_lettered == 0


def test_rebuild_refuses_to_empty_read_models_when_the_broker_has_no_history(events_settings) -> None:
    from common.events.replay import RebuildInterrupted, rebuild_read_models

    product_id = uuid.uuid4()
    ProductStockActivity.objects.create(product_id=product_id, sku="KEEP", adjustments=4, last_event_at=timezone.now())
    ProcessedEvent.objects.create(event_id=uuid.uuid4(), handler="catalog.handlers.project_product", event_type="x.y.z")
    with pytest.raises(RebuildInterrupted, match="lost its history"):
        rebuild_read_models(topic_names=[unique_topic()], idle_seconds=0.5)  # an empty topic
    assert activity(product_id).adjustments == 4
    stats = rebuild_read_models(topic_names=[unique_topic()], idle_seconds=0.5, allow_empty=True)
    assert stats.applied == 0 and activity(product_id) is None


def test_a_stock_adjustment_seen_before_the_product_still_counts(run_consumer) -> None:
    """catalog.stock and catalog.product are different topics: either may be consumed first."""
    product_id, topic = uuid.uuid4(), unique_topic()
    adjusted = Envelope(
        event_id=uuid.uuid4(), event_type=catalog_events.STOCK_ADJUSTED, schema_version=1,
        aggregate_id=str(product_id), occurred_at=timezone.now(), producer="catalog", correlation_id="test",
        payload={"product_id": str(product_id), "delta": -3, "previous_quantity": 10, "stock_quantity": 7},
    )
    state = Envelope(
        event_id=uuid.uuid4(), event_type=catalog_events.PRODUCT_UPDATED, schema_version=1,
        aggregate_id=str(product_id), occurred_at=timezone.now(), producer="catalog", correlation_id="test",
        payload={"sku": "LATE-1", "category_id": None, "is_active": True, "stock_quantity": 7},
    )
    produce(topic, adjusted.to_json(), state.to_json(), key=str(product_id).encode())
    consumer = run_consumer(topics=[topic])
    wait_until(lambda: consumer.stats.processed == 2, what="both events")
    row = activity(product_id)
    assert (row.sku, row.stock_quantity, row.adjustments, row.units_removed) == ("LATE-1", 7, 1, 3)


COUNT_IN_CATEGORY = """query($c: ID!) { products(first: 1, filter: {categoryId: $c, isActive: null}) { totalCount } }"""


def test_seeded_catalog_reaches_the_event_built_read_model(gql, run_relay, run_consumer) -> None:
    """A fresh setup: the seed's events (bulk API of the bridge) build the read model, so the
    admin's per-category counts equal what the API counts."""
    from catalog.models import Category, Product
    from catalog.queries import with_stock_summary

    call_command("seed_catalog", products=60, seed=7, stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert OutboxEvent.objects.filter(event_type=catalog_events.PRODUCT_CREATED).count() == 60
    run_relay()
    run_consumer(topics=["catalog.product"])
    seeded = list(Product.objects.values_list("pk", flat=True))
    # (The topic may still hold events of earlier tests' products: count the seeded ones.)
    wait_until(lambda: ProductStockActivity.objects.filter(pk__in=seeded).count() == 60, timeout=60,
               what="the seed in the read model")
    admin_counts = {str(c.pk): (c.product_count, c.units_in_stock) for c in with_stock_summary(Category.objects.all())}
    leaves = Category.objects.filter(children__isnull=True)
    assert leaves.count() == 18
    for leaf in leaves:
        total = gql.data(COUNT_IN_CATEGORY, {"c": str(leaf.pk)})["products"]["totalCount"]
        units = sum(Product.objects.filter(category=leaf).values_list("stock_quantity", flat=True))
        assert admin_counts[str(leaf.pk)] == (total, units) and total > 0, leaf.name


# --- processes -----------------------------------------------------------------------------------


def test_relay_and_consumer_processes_work_and_stop_gracefully_on_sigterm(kafka_broker, events_settings, tmp_path) -> None:
    project = Path(__file__).resolve().parents[1]
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "DJANGO_SETTINGS_MODULE": "catalog_project.settings.dev",
        "PYTHONUNBUFFERED": "1",
    }
    processes = {}
    for command in ("relay_outbox", "consume"):
        log = (tmp_path / f"{command}.log").open("wb")
        processes[command] = subprocess.Popen([sys.executable, "manage.py", command], cwd=project, env=env,
                                              stdout=log, stderr=subprocess.STDOUT)
    try:
        [product] = make_products(1)
        commands.adjust_stock(product_id=product.pk, delta=2)
        wait_until(lambda: (row := activity(product.pk)) and row.adjustments == 1, timeout=60,
                   what="the event to travel through the relay and consumer processes")
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for command, process in processes.items():
            assert process.wait(timeout=15) == 0, (tmp_path / f"{command}.log").read_text()
            assert "stopped" in (tmp_path / f"{command}.log").read_text()
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
