"""Rebuild the cart's product read model (`<prefix>product:<id>` hashes in the cart's Redis) from the
catalog.product topic, which the shared `rebuild_read_models` (SQL read models in one transaction)
cannot do: the read model lives in Redis and its handler has no SQL reset.

The topic is replayed from offset 0 without a consumer group (live offsets stay as they are) until no
record came for `idle_seconds`; the last state of each product (by the catalog's `updated_at`, as the
live handler decides) is then swapped in with ONE MULTI/EXEC that also deletes the products the topic
does not know: readers see the old read model or the new one, never a mix. The EXEC WATCHes every
product key, so an event the live consumer applies meanwhile makes it fail: the replay then reads on
(that event is in the topic too) and tries again. Nothing changes when the replay finds no event while
the read model holds products (a broker that lost its history), unless `allow_empty`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import redis
from common.events import clients, topics
from common.events.envelope import Envelope, InvalidEnvelope
from common.events.replay import RebuildInterrupted, _partitions
from kafka import TopicPartition

from cart import store
from cart.handlers import PRODUCT_DELETED, PRODUCT_UPSERTS
from cart.model import Product

TOPIC = "catalog.product"


@dataclass
class ProductRebuild:
    records: int = 0
    products: int = 0
    removed: int = 0
    malformed: int = 0
    attempts: int = 0


def rebuild_product_read_model(*, topic: str = TOPIC, idle_seconds: float = 3.0, stop: threading.Event | None = None,
                               allow_empty: bool = False, attempts: int = 20) -> ProductRebuild:
    stop = stop or threading.Event()
    stats = ProductRebuild()
    latest: dict[str, Product] = {}
    topics.ensure_topics([topic])
    consumer = clients.consumer(group_id=None, role="rebuild")
    try:
        partitions = [TopicPartition(topic, partition) for partition in _partitions(consumer, topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        _read(consumer, latest, stats, idle_seconds, stop)
        for _ in range(attempts):
            stats.attempts += 1
            if _swap(consumer, latest, stats, idle_seconds, stop, allow_empty):
                return stats
        raise RebuildInterrupted(f"the live consumer changed the read model during {attempts} attempts; nothing changed")
    finally:
        consumer.close(autocommit=False)


def _read(consumer: object, latest: dict[str, Product], stats: ProductRebuild, idle_seconds: float,
          stop: threading.Event) -> None:
    import time

    last_record = time.monotonic()
    while time.monotonic() - last_record < idle_seconds:
        if stop.is_set():
            raise RebuildInterrupted("stopped before the replay finished; the old read model is kept")
        batches = consumer.poll(timeout_ms=200)  # type: ignore[attr-defined]
        for record in (record for partition_records in batches.values() for record in partition_records):
            last_record = time.monotonic()
            stats.records += 1
            try:
                event = Envelope.from_json(record.value)
            except InvalidEnvelope:
                stats.malformed += 1  # the live consumer dead-lettered it already
                continue
            if event.event_type not in (*PRODUCT_UPSERTS, PRODUCT_DELETED):
                continue
            product = Product.from_event_payload({"id": event.aggregate_id, **event.payload},
                                                 deleted=event.event_type == PRODUCT_DELETED)
            held = latest.get(product.id)
            # The live handler's rule: an event older than the held state changes nothing.
            if held is None or not (held.updated_at and product.updated_at and product.updated_at < held.updated_at):
                latest[product.id] = product


def _swap(consumer: object, latest: dict[str, Product], stats: ProductRebuild, idle_seconds: float,
          stop: threading.Event, allow_empty: bool) -> bool:
    """Replace the read model by `latest` in one transaction; False when a watched key changed.

    WATCH first, then read on: whatever the live consumer applied before the WATCH came from a record
    this second read still finds, whatever it applies after makes the EXEC fail."""
    client = store.client()
    prefix = store.product_key("")
    with client.pipeline() as pipe:
        held = list(client.scan_iter(match=prefix + "*", count=1000))
        watched = {*held, *(store.product_key(product_id) for product_id in latest)}
        if watched:
            pipe.watch(*watched)
        _read(consumer, latest, stats, min(idle_seconds, 1.0), stop)
        if new := {store.product_key(product_id) for product_id in latest} - watched:
            pipe.watch(*new)  # products first seen in this read (a key written before this WATCH is
            # from a record read here too, so its state is in `latest`)
        if not latest and held and not allow_empty:
            pipe.reset()
            raise RebuildInterrupted(
                f"the replay of the topic found no product event although the read model holds {len(held)} "
                "products: the broker has lost its history? Nothing was changed (allow_empty to empty it anyway)."
            )
        stale = [key for key in held if key.removeprefix(prefix) not in latest]
        pipe.multi()
        if held:
            pipe.delete(*held)
        for product in latest.values():
            pipe.hset(store.product_key(product.id), mapping=product.to_hash())
        try:
            pipe.execute()
        except redis.WatchError:
            return False
    stats.products, stats.removed = len(latest), len(stale)
    return True
