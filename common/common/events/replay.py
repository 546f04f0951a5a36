"""Rebuild read models: empty them and replay the consumed topics from the beginning.

Everything happens in ONE transaction holding the read-model lock exclusively: readers keep
seeing the old read model until the rebuilt one commits, live consumers wait instead of
interleaving, and a failed rebuild leaves the old read model untouched. Only handlers that
declared a `reset` are replayed; reactions (mails, processes) are not run again.

The end of the replay is "no record for `idle_seconds`": the development broker (Tansu) reports
wrong end offsets, so they are not used. Replay needs the topics' full history: give consumed
topics infinite retention in production, and see docs/events.md about the memory-only broker.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.db import connection, transaction
from kafka import TopicPartition

from common.events import clients, topics
from common.events.conf import setting
from common.events.envelope import Envelope, InvalidEnvelope
from common.events.handlers import handlers_for, read_model_registrations
from common.events.models import ProcessedEvent
from common.events.processing import READ_MODEL_LOCK, apply_event

logger = logging.getLogger(__name__)


class RebuildInterrupted(Exception):
    pass


@dataclass
class RebuildStats:
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    malformed: int = 0
    failed: int = 0
    read_models: list[str] = field(default_factory=list)


def rebuild_read_models(
    *,
    topic_names: list[str] | None = None,
    idle_seconds: float = 3.0,
    stop: threading.Event | None = None,
    allow_empty: bool = False,
) -> RebuildStats:
    stop = stop or threading.Event()
    registrations = read_model_registrations()
    stats = RebuildStats(read_models=[registration.name for registration in registrations])
    if not registrations:
        return stats
    names = {registration.name for registration in registrations}
    topic_names = list(topic_names or setting("EVENTS_CONSUME_TOPICS"))
    topics.ensure_topics(topic_names)
    consumer = clients.consumer(group_id=None, role="rebuild")  # no group: live offsets stay as they are
    try:
        partitions = [
            TopicPartition(topic, partition) for topic in topic_names for partition in _partitions(consumer, topic)
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [READ_MODEL_LOCK])
            had_history = ProcessedEvent.objects.filter(handler__in=names).exists()
            resets = {id(r.reset): r.reset for r in registrations if r.reset is not None}
            for reset in resets.values():
                reset()
            with connection.cursor() as cursor:
                table = ProcessedEvent._meta.db_table
                cursor.execute(f"DELETE FROM {table} WHERE handler = ANY(%s)", [sorted(names)])  # noqa: S608
            _replay(consumer, names, stats, idle_seconds, stop)
            if had_history and stats.applied == 0 and not allow_empty:
                # Typical after a restart of the memory-only development broker: it has no history.
                raise RebuildInterrupted(
                    "the replay found no events although these read models had processed some: the broker "
                    "has lost its history? Nothing was changed (use --allow-empty to empty them anyway)."
                )
    finally:
        consumer.close(autocommit=False)
    return stats


def _partitions(consumer: object, topic: str, timeout: float = 15.0) -> list[int]:
    """The topic's partitions; never an empty list (replaying nothing would empty the read models)."""
    deadline = time.monotonic() + timeout
    while not (partitions := consumer.partitions_for_topic(topic)):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise RebuildInterrupted(f"no partition metadata for {topic}; nothing was reset")
        time.sleep(0.1)
    return sorted(partitions)


def _replay(consumer: object, names: set[str], stats: RebuildStats, idle_seconds: float, stop: threading.Event) -> None:
    last_record = time.monotonic()
    while time.monotonic() - last_record < idle_seconds:
        if stop.is_set():
            raise RebuildInterrupted("stopped before the replay finished; the old read models are kept")
        batches = consumer.poll(timeout_ms=200)  # type: ignore[attr-defined]
        for record in (record for partition_records in batches.values() for record in partition_records):
            last_record = time.monotonic()
            stats.records += 1
            try:
                envelope = Envelope.from_json(record.value)
            except InvalidEnvelope:
                stats.malformed += 1  # the live consumer dead-lettered it already
                continue
            registrations = [r for r in handlers_for(envelope.event_type) if r.name in names]
            if not registrations:
                continue
            try:
                ran = apply_event(envelope, registrations, lock=False)  # a savepoint each: one bad event is skipped
            except Exception:  # counted and logged; the live consumer dead-lettered these too
                stats.failed += 1
                logger.exception("rebuild: %s %s failed; skipped", envelope.event_type, envelope.event_id)
                continue
            if ran:
                stats.applied += 1
            else:
                stats.duplicates += 1
