"""The outbox relay: publishes committed outbox rows to Kafka, in order, and marks them sent.

Ordering and exclusivity: each batch runs in one transaction that first takes a transaction-level
advisory lock (`pg_try_advisory_xact_lock`), then selects pending rows in id order with
`FOR UPDATE SKIP LOCKED`. The lock makes ONE batch in flight per database at any time, whatever
the number of relay instances; the others stand by and take over within a second if the active
one dies (the lock goes with its transaction or connection; no lease to expire, no session state
to lose on reconnect). Per-row locks alone are not enough: two relays could take different rows
of the same aggregate and publish them out of order.

A row is marked sent only after the broker acknowledged it (acks=all). A crash between the ack
and the commit publishes the row again on restart: delivery is at least once, and consumers
are idempotent by event id.
"""

from __future__ import annotations

import logging
import threading
import zlib
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone
from kafka.errors import KafkaError

from common.events import clients, topics
from common.events.backoff import Backoff
from common.events.conf import setting
from common.events.heartbeat import Heartbeat
from common.events.models import OutboxEvent
from common.events.notify import OutboxListener
from common.observability.metrics import event_counters
from common.observability.tracing import publish_span

logger = logging.getLogger(__name__)

RELAY_LOCK = zlib.crc32(b"common.events.relay")
PRUNE_CHUNK = 5000


class PublishFailed(Exception):
    """The broker did not acknowledge every row of the batch."""


class Outcome(Enum):
    STANDBY = "standby"  # another relay holds the lock
    IDLE = "idle"  # nothing pending
    PARTIAL = "partial"  # published less than a full batch
    FULL = "full"  # published a full batch: more may be waiting


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    standby: int = 0
    failures: int = 0
    pruned: int = 0


class OutboxRelay:
    def __init__(self, *, stop: threading.Event | None = None, batch_size: int | None = None) -> None:
        self.stop = stop or threading.Event()
        self.batch_size = batch_size or setting("EVENTS_RELAY_BATCH_SIZE")
        self.stats = RelayStats()
        self._producer = None
        self._known_topics: set[str] = set()
        self._next_prune = 0.0

    # --- loop ----------------------------------------------------------------------------------

    def run(self) -> None:
        listener = OutboxListener()
        backoff = Backoff(maximum=setting("EVENTS_MAX_BACKOFF_SECONDS"))
        idle = setting("EVENTS_RELAY_IDLE_SECONDS")
        heartbeat = Heartbeat()
        try:
            while not self.stop.is_set():
                heartbeat.beat()
                event_counters.maybe_flush()
                try:
                    outcome = self.relay_batch()
                    self.prune_if_due()
                except (KafkaError, PublishFailed) as exc:
                    self._broker_failed(exc)
                    if backoff.wait(self.stop):
                        break
                    continue
                except DatabaseError as exc:
                    self.stats.failures += 1
                    logger.warning("relay: database unavailable (%s); retrying", exc)
                    close_old_connections()
                    connection.close()
                    if backoff.wait(self.stop):
                        break
                    continue
                backoff.reset()
                if outcome is not Outcome.FULL:
                    self._wait_for_work(listener, idle)
        finally:
            listener.close()
            self._close_producer()
            connection.close()

    def _wait_for_work(self, listener: OutboxListener, idle: float) -> None:
        # Short slices so SIGTERM is honoured quickly; a NOTIFY (a commit) ends the wait at once.
        waited = 0.0
        while waited < idle and not self.stop.is_set():
            if listener.wait(min(0.25, idle - waited)):
                return
            waited += 0.25

    # --- one batch -------------------------------------------------------------------------------

    def relay_batch(self) -> Outcome:
        failure: Exception | None = None
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_LOCK])
                if not cursor.fetchone()[0]:
                    self.stats.standby += 1
                    return Outcome.STANDBY
            rows = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True)
                .order_by("id")[: self.batch_size]
            )
            if not rows:
                return Outcome.IDLE
            acked, failure = self._publish(rows)
            if acked:
                OutboxEvent.objects.filter(id__in=acked).update(sent_at=timezone.now())
                self.stats.published += len(acked)
                self.stats.batches += 1
                event_counters.incr("relay", "published", "", len(acked))
        if failure is not None:
            raise PublishFailed(f"{len(rows) - len(acked)} of {len(rows)} event(s) not acknowledged: {failure}")
        return Outcome.FULL if len(rows) == self.batch_size else Outcome.PARTIAL

    def _publish(self, rows: list[OutboxEvent]) -> tuple[list[int], Exception | None]:
        """Send the rows (in id order) and wait for the broker; returns the ids it acknowledged."""
        producer = self._ensure_producer()
        new_topics = {row.topic for row in rows} - self._known_topics
        if new_topics:
            topics.ensure_topics(new_topics)
            self._known_topics |= new_topics
        sent = []
        failure: Exception | None = None
        try:
            for row in rows:
                envelope = row.to_envelope()
                # The trace that recorded the event continues through Kafka (W3C traceparent header).
                with publish_span(row.topic, row.trace_context) as trace_headers:
                    future = producer.send(
                        row.topic,
                        key=row.aggregate_id.encode(),
                        value=envelope.to_json(),
                        headers=[
                            ("event_type", row.event_type.encode()),
                            ("event_id", str(row.event_id).encode()),
                            ("correlation_id", row.correlation_id.encode()),
                            ("content_type", b"application/json"),
                            *trace_headers,
                        ],
                    )
                sent.append((row.id, future))
        except KafkaError as exc:
            failure = exc  # stop at the first row that could not even be queued: order matters
        try:
            producer.flush(timeout=setting("EVENTS_RELAY_FLUSH_TIMEOUT_SECONDS"))
        except KafkaError as exc:
            failure = failure or exc
        acked = []
        for row_id, future in sent:
            if future.succeeded():
                acked.append(row_id)
            elif failure is None:
                failure = future.exception or KafkaError("not acknowledged in time")
        return acked, failure

    # --- producer lifecycle ----------------------------------------------------------------------

    def _ensure_producer(self):  # kafka-python has no type hints
        if self._producer is None:
            self._producer = clients.producer(role="relay")
        return self._producer

    def _close_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=2)
            except Exception:  # a broken producer is being thrown away anyway
                logger.debug("relay: error while closing the producer", exc_info=True)
            self._producer = None

    def _broker_failed(self, exc: Exception) -> None:
        # A fresh producer after any failure: the broker may have restarted (memory storage loses
        # topics and producer ids) and the idempotent producer's state would be rejected.
        self.stats.failures += 1
        logger.warning("relay: broker unavailable (%s: %s); events stay in the outbox, retrying", type(exc).__name__, exc)
        self._close_producer()
        self._known_topics.clear()

    # --- pruning ---------------------------------------------------------------------------------

    def prune_if_due(self) -> int:
        now = timezone.now().timestamp()
        if now < self._next_prune:
            return 0
        self._next_prune = now + setting("EVENTS_PRUNE_INTERVAL_SECONDS")
        cutoff = timezone.now() - timedelta(hours=setting("EVENTS_OUTBOX_RETENTION_HOURS"))
        pruned = prune_sent(cutoff)
        self.stats.pruned += pruned
        return pruned


def prune_sent(cutoff: object) -> int:
    """Delete sent rows older than `cutoff` in chunks (short transactions, no long table locks)."""
    table = OutboxEvent._meta.db_table
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN "  # noqa: S608 - table name from the model, not input
                f"(SELECT id FROM {table} WHERE sent_at IS NOT NULL AND sent_at < %s LIMIT %s)",
                [cutoff, PRUNE_CHUNK],
            )
            total += cursor.rowcount
            if cursor.rowcount < PRUNE_CHUNK:
                return total
