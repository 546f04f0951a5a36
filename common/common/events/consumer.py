"""The consumer runner: reads the service's topics as consumer group SERVICE_NAME and applies
each event to its handlers.

For every record, in partition order:
  * not a valid envelope -> dead-letter topic at once (retrying cannot fix it);
  * no handler for its type -> skipped;
  * otherwise `apply_event` in one transaction (idempotent by event id and handler); a failing
    handler is retried with backoff, then the record goes to the dead-letter topic with the
    error; a database outage is waited out (never dead-lettered).
Offsets are committed only after the record's outcome is durable (handler transaction committed,
or dead letter acknowledged), so a crash at any point redelivers, and redelivery has no effect.
"""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone
from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from common.events import clients, topics
from common.events.appliers import Applier, configured_applier
from common.events.backoff import Backoff
from common.events.conf import dead_letter_topic, service_name, setting
from common.events.dead_letters import HANDLER_ERROR, MALFORMED, send_to_dead_letters
from common.events.envelope import Envelope, InvalidEnvelope
from common.events.handlers import handlers_for
from common.events.heartbeat import Heartbeat
from common.events.models import ProcessedEvent
from common.observability.metrics import OffsetReport, event_counters
from common.observability.tracing import traced

logger = logging.getLogger(__name__)


class HandlerFailed(Exception):
    """A handler failed on the fast path; the batch was rolled back and goes through the slow path."""


class Stopped(Exception):
    """Asked to stop while waiting to retry: the current record stays uncommitted (redelivered later)."""


@dataclass
class ConsumerStats:
    processed: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    retries: int = 0
    broker_failures: int = 0
    prune_failures: int = 0


class EventConsumer:
    def __init__(
        self, *, topics: list[str] | None = None, group_id: str | None = None, stop: threading.Event | None = None,
        applier: Applier | None = None,
    ) -> None:
        self.topics = list(topics or setting("EVENTS_CONSUME_TOPICS"))
        if not self.topics:
            raise ImproperlyConfigured("EVENTS_CONSUME_TOPICS is empty: this service consumes nothing.")
        self.group_id = group_id or service_name()
        self.stop = stop or threading.Event()
        self.stats = ConsumerStats()
        # How events are applied (SQL transaction by default; EVENTS_APPLIER plugs another store).
        self.applier = applier or configured_applier(setting("EVENTS_APPLIER"))
        self._consumer: Any = None
        self._producer: Any = None
        self._done: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._next_prune = 0.0
        self._offsets = OffsetReport(self.group_id)  # for /metrics/: consumer lag

    def _count(self, result: str, amount: int = 1) -> None:
        event_counters.incr("consumer", result, self.group_id, amount)

    # --- loop ----------------------------------------------------------------------------------

    def run(self) -> None:
        backoff = Backoff(maximum=setting("EVENTS_MAX_BACKOFF_SECONDS"))
        heartbeat = Heartbeat()
        try:
            while not self.stop.is_set():
                heartbeat.beat()
                try:
                    records = self.poll()
                    self.process(records)
                    self.commit()
                    self.prune_if_due()
                    event_counters.maybe_flush()
                    self._offsets.maybe_flush()
                    backoff.reset()
                except Stopped:
                    break
                except KafkaError as exc:
                    # Rebuild the clients: after a broker restart the group, its offsets and the
                    # producer ids are gone, and a fresh join is the reliable way back.
                    self.stats.broker_failures += 1
                    logger.warning("consumer: broker unavailable (%s: %s); retrying", type(exc).__name__, exc)
                    self.close(commit=False)
                    if backoff.wait(self.stop):
                        break
            self.commit_quietly()
        finally:
            self.close(commit=False)
            connection.close()

    def connect(self) -> None:
        if self._consumer is None:
            topics.ensure_topics([*self.topics, *(dead_letter_topic(topic) for topic in self.topics)])
            self._consumer = clients.consumer(group_id=self.group_id)
            self._consumer.subscribe(self.topics)

    def poll(self, timeout_ms: int = 250) -> list[Any]:
        """The next records, in order within each partition."""
        self.connect()
        batches = self._consumer.poll(timeout_ms=timeout_ms)
        records = [record for partition_records in batches.values() for record in partition_records]
        self._offsets.saw(records)
        return records

    def process(self, records: list[Any]) -> None:
        pending = list(records)
        database_backoff = Backoff(maximum=setting("EVENTS_MAX_BACKOFF_SECONDS"))
        while pending:
            if self.stop.is_set():
                raise Stopped
            batch = pending[: setting("EVENTS_CONSUMER_BATCH_SIZE")]
            try:
                settled = self.apply_batch(batch)
            except self.applier.transient_errors as exc:
                logger.warning("consumer: database error (%s); retrying the batch", exc)
                self.applier.recover()
                if database_backoff.wait(self.stop):
                    raise Stopped
                continue
            except HandlerFailed:
                settled = 0
                for record in batch:  # slow path, one transaction each: retries, then the DLQ
                    if self.stop.is_set():
                        raise Stopped
                    self.handle_record(record)
                    self._mark_done(record)
                pending = pending[len(batch) :]
                continue
            for record in batch[:settled]:
                self._mark_done(record)
            pending = pending[settled:]
            if settled < len(batch):  # a malformed record: straight to the DLQ
                self.handle_record(pending[0])
                self._mark_done(pending.pop(0))

    def apply_batch(self, batch: list[Any]) -> int:
        """Fast path: the leading valid records of `batch` in ONE transaction (one commit for all).

        Returns how many records are settled; stops before a malformed one. If a handler fails,
        nothing is committed and HandlerFailed is raised (the caller takes the slow path).
        """
        parsed: list[tuple[Envelope, list[Any]]] = []
        for record in batch:
            try:
                envelope = Envelope.from_json(record.value)
            except InvalidEnvelope:
                break
            parsed.append((envelope, traced(record, handlers_for(envelope.event_type))))
        work = [(envelope, registrations) for envelope, registrations in parsed if registrations]
        results: list[set[str]] = []
        if work:
            try:
                results = self.applier.apply_events(work)
            except self.applier.transient_errors:
                raise
            except Exception as exc:
                logger.debug("consumer: a handler failed on the fast path", exc_info=True)
                raise HandlerFailed from exc
        processed = sum(1 for ran in results if ran)
        self.stats.processed += processed
        self.stats.duplicates += len(results) - processed
        self.stats.ignored += len(parsed) - len(work)
        self._count("processed", processed)
        self._count("duplicate", len(results) - processed)
        self._count("ignored", len(parsed) - len(work))
        return len(parsed)

    def _mark_done(self, record: Any) -> None:
        self._done[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def commit(self) -> None:
        if self._done and self._consumer is not None:
            offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self._done.items()}
            self._consumer.commit(offsets)
            self._offsets.committed_offsets({(tp.topic, tp.partition): offset for tp, offset in self._done.items()})
            self._done.clear()

    def commit_quietly(self) -> None:
        try:
            self.commit()
        except KafkaError as exc:
            logger.warning("consumer: final commit failed (%s); those events will be redelivered", exc)

    def close(self, *, commit: bool) -> None:
        """Leave the group. Without `commit`, uncommitted records are redelivered to the next consumer."""
        if commit:
            self.commit_quietly()
        self._done.clear()
        for client in (self._consumer, self._producer):
            if client is not None:
                try:
                    client.close(autocommit=False) if client is self._consumer else client.close(timeout=2)
                except Exception:  # closing a broken client must not hide the original problem
                    logger.debug("consumer: error while closing a Kafka client", exc_info=True)
        self._consumer = self._producer = None

    # --- one record ------------------------------------------------------------------------------

    def handle_record(self, record: Any) -> None:
        try:
            envelope = Envelope.from_json(record.value)
        except InvalidEnvelope as exc:
            self.dead_letter(record, kind=MALFORMED, error=f"invalid envelope: {exc}", attempts=0)
            return
        registrations = traced(record, handlers_for(envelope.event_type))
        if not registrations:
            self.stats.ignored += 1
            self._count("ignored")
            return
        handler_backoff = Backoff(initial=setting("EVENTS_HANDLER_RETRY_SECONDS"), maximum=5.0)
        database_backoff = Backoff(maximum=setting("EVENTS_MAX_BACKOFF_SECONDS"))
        attempts = 0
        while True:
            try:
                ran = self.applier.apply_event(envelope, registrations)
            except self.applier.transient_errors as exc:
                # The database is away (or a deadlock): not the event's fault, so wait, never dead-letter.
                logger.warning("consumer: database error on %s (%s); retrying", envelope.event_id, exc)
                self.applier.recover()
                if database_backoff.wait(self.stop):
                    raise Stopped
                continue
            except Exception as exc:  # any handler failure is retried, then dead-lettered
                attempts += 1
                if attempts >= setting("EVENTS_HANDLER_MAX_ATTEMPTS"):
                    logger.exception(
                        "consumer: %s %s failed %d times; dead-lettered", envelope.event_type, envelope.event_id, attempts
                    )
                    error = "".join(traceback.format_exception_only(exc)).strip()
                    self.dead_letter(record, kind=HANDLER_ERROR, error=error, attempts=attempts)
                    return
                self.stats.retries += 1
                self._count("retried")
                if handler_backoff.wait(self.stop):
                    raise Stopped
                continue
            if ran:
                self.stats.processed += 1
            else:
                self.stats.duplicates += 1
            self._count("processed" if ran else "duplicate")
            return

    def dead_letter(self, record: Any, *, kind: str, error: str, attempts: int) -> None:
        if self._producer is None:
            self._producer = clients.producer(role="dead-letters")
        send_to_dead_letters(self._producer, record, kind=kind, error=error, group_id=self.group_id, attempts=attempts)
        self.stats.dead_lettered += 1
        self._count("dead_lettered")
        logger.warning(
            "consumer: %s record %s[%s]@%s dead-lettered: %s",
            kind,
            record.topic,
            record.partition,
            record.offset,
            error.splitlines()[0] if error else "",
        )

    # --- pruning ---------------------------------------------------------------------------------

    def prune_if_due(self) -> None:
        now = timezone.now()
        if now.timestamp() < self._next_prune:
            return
        self._next_prune = now.timestamp() + setting("EVENTS_PRUNE_INTERVAL_SECONDS")
        cutoff = now - timedelta(days=setting("EVENTS_PROCESSED_RETENTION_DAYS"))
        table = ProcessedEvent._meta.db_table
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE processed_at < %s LIMIT 5000)",  # noqa: S608
                    [cutoff],
                )
        except self.applier.transient_errors as exc:
            # Housekeeping only: a database (or, for the cart's applier, Redis) outage must not end
            # the consumer; the next interval tries again, on a fresh connection.
            self.stats.prune_failures += 1
            self._count("prune_failed")
            logger.warning("consumer: pruning processed events failed (%s); carrying on", exc)
            self.applier.recover()
