"""Re-drive a dead-letter topic: apply its records again to this service's handlers.

A record lands in `<topic>.dlq` when a handler kept failing (or the message was not an envelope).
After the cause is fixed (a deploy, a missing row created), `manage.py replay_dead_letters` reads
the dead-letter topics from the beginning and applies each record of this consumer group through
`apply_event`, the consumer's own path: idempotent per (event, handler), so a record already
applied (by an earlier replay, or a later redelivery) has no second effect and replaying twice is
safe. Malformed records can never apply; they are counted and left for inspection. A record that
fails again stays in the topic (the next replay retries it); the replay goes on with the others,
except later records of the same aggregate, which wait behind it to keep their order.
No consumer group is joined: live consumers' offsets are untouched.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition

from common.events import clients, topics
from common.events.conf import dead_letter_topic, service_name, setting
from common.events.dead_letters import MALFORMED
from common.events.envelope import Envelope, InvalidEnvelope
from common.events.handlers import handlers_for
from common.events.processing import apply_event

logger = logging.getLogger(__name__)


@dataclass
class RedriveStats:
    records: int = 0
    applied: int = 0  # a handler ran now
    already_applied: int = 0  # every handler had handled it before (duplicate)
    failed: int = 0  # failed again: stays in the dead-letter topic
    held_back: int = 0  # behind a failed record of the same aggregate
    unreplayable: int = 0  # malformed: no envelope to apply
    other_groups: int = 0  # dead-lettered by another service's consumer group
    no_handler: int = 0
    failures: list[str] = field(default_factory=list)


def replay_dead_letters(
    *,
    topic_names: list[str] | None = None,
    group_id: str | None = None,
    dry_run: bool = False,
    idle_seconds: float = 3.0,
    stop: threading.Event | None = None,
    apply: Callable[[Envelope, list[Any]], set[str]] = apply_event,
) -> RedriveStats:
    """`apply` is the consumer's own apply step (SQL by default; a service storing its state
    elsewhere passes its own), so a replay is exactly as idempotent as live consumption."""
    stop = stop or threading.Event()
    group = group_id or service_name()
    # Original topics; a dead-letter topic's own name is accepted too.
    sources = [topic.removesuffix(".dlq") for topic in topic_names or setting("EVENTS_CONSUME_TOPICS")]
    dlqs = [dead_letter_topic(topic) for topic in sources]
    topics.ensure_topics(dlqs)
    stats = RedriveStats()
    blocked: set[tuple[str, str]] = set()  # (original topic, key) behind a failure
    consumer = clients.consumer(group_id=None, role="dlq-replay")
    try:
        partitions = [TopicPartition(topic, p) for topic in dlqs for p in _partitions(consumer, topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        last_record = time.monotonic()
        while time.monotonic() - last_record < idle_seconds and not stop.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    last_record = time.monotonic()
                    _redrive(record, group, dry_run, stats, blocked, apply)
    finally:
        consumer.close(autocommit=False)
    return stats


def _redrive(record: Any, group: str, dry_run: bool, stats: RedriveStats, blocked: set[tuple[str, str]],
             apply: Callable[[Envelope, list[Any]], set[str]]) -> None:
    stats.records += 1
    try:
        letter = json.loads(record.value)
    except (TypeError, ValueError):
        letter = None
    if not isinstance(letter, dict):  # not written by a consumer: nothing to replay
        stats.unreplayable += 1
        return
    if letter.get("consumer_group") != group:
        stats.other_groups += 1
        return
    if letter.get("kind") == MALFORMED or letter.get("value") is None:
        stats.unreplayable += 1
        return
    try:
        envelope = Envelope.from_json(letter["value"])
    except InvalidEnvelope:
        stats.unreplayable += 1
        return
    registrations = handlers_for(envelope.event_type)
    if not registrations:
        stats.no_handler += 1
        return
    ordering_key = (letter["original"]["topic"], envelope.aggregate_id)
    if ordering_key in blocked:
        stats.held_back += 1
        return
    if dry_run:
        stats.applied += 1  # would be applied (or found already applied)
        return
    try:
        ran = apply(envelope, registrations)
    except Exception as exc:  # reported; the record stays in the dead-letter topic for the next replay
        stats.failed += 1
        blocked.add(ordering_key)
        stats.failures.append(f"{envelope.event_type} {envelope.event_id}: {type(exc).__name__}: {exc}")
        logger.warning("replay: %s %s failed again: %s", envelope.event_type, envelope.event_id, exc)
        return
    if ran:
        stats.applied += 1
    else:
        stats.already_applied += 1


def _partitions(consumer: Any, topic: str, timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while not (partitions := consumer.partitions_for_topic(topic)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no partition metadata for {topic}")
        time.sleep(0.1)
    return sorted(partitions)
