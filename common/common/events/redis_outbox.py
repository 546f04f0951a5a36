"""A transactional outbox for services whose database is Redis: a Redis Stream.

Write side: `record_event(pipe, stream=..., ...)` queues an `XADD` on a pipeline that is in
MULTI mode (or inside a Lua script's keys), so the event commits with the change it describes,
or not at all. Each stream entry is one envelope: fields `topic`, `key` (aggregate id) and
`envelope` (the JSON of `common.events.envelope.Envelope`).

Relay side: `RedisOutboxRelay(client, stream=...)` publishes the stream to Kafka in entry order
and deletes each entry (XDEL) only after the broker acknowledged it, so the stream holds exactly
what is not yet sent. Delivery is at least once: a relay that dies between the ack and the XDEL
publishes those entries again; consumers deduplicate by event id.

Several relays are safe: a lease (`SET <stream>:relay-lock NX PX`, renewed by its holder with a
compare-and-set script) lets one of them publish at a time, so per-aggregate order is kept; the
others stand by and take over within the lease after the active one dies. Idle relays block on
`XREAD BLOCK` and wake as soon as an entry is added.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from kafka.errors import KafkaError

from common.events import clients, topics
from common.events.backoff import Backoff
from common.events.conf import setting
from common.events.envelope import Envelope
from common.events.heartbeat import Heartbeat
from common.events.outbox import NewEvent, new_envelope
from common.observability.metrics import event_counters

logger = logging.getLogger(__name__)

LEASE_MS = 5000
# Compare-and-set: only the holder renews or releases its lease.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def build_envelope(*, topic: str, event_type: str, aggregate_id: str, payload: dict[str, Any],
                   schema_version: int = 1) -> Envelope:
    """The envelope `record_event` writes: made and validated like the SQL outbox's (actor,
    causation and correlation from the context)."""
    return new_envelope(NewEvent(topic, event_type, str(aggregate_id), payload, schema_version))


def record_event(pipe: Any, *, stream: str, topic: str, event_type: str, aggregate_id: str,
                 payload: dict[str, Any], schema_version: int = 1) -> Envelope:
    """Queue the event on `pipe` (a redis-py pipeline in MULTI mode): it is written by the same
    EXEC as the change, or not at all."""
    if getattr(pipe, "explicit_transaction", True) is False and getattr(pipe, "watching", False):
        raise RuntimeError("record_event() needs the pipeline in MULTI mode: call pipe.multi() first.")
    envelope = build_envelope(
        topic=topic, event_type=event_type, aggregate_id=aggregate_id, payload=payload, schema_version=schema_version
    )
    pipe.xadd(stream, {"topic": topic, "key": envelope.aggregate_id, "envelope": envelope.to_json()})
    return envelope


@dataclass
class RedisRelayStats:
    published: int = 0
    batches: int = 0
    standby: int = 0
    failures: int = 0


class PublishFailed(Exception):
    """The broker did not acknowledge every entry of the batch."""


class RedisOutboxRelay:
    def __init__(self, client: redis.Redis, *, stream: str, stop: threading.Event | None = None,
                 batch_size: int | None = None, block_ms: int = 1000, lease_ms: int = LEASE_MS) -> None:
        self.client = client
        self.stream = stream
        self.lock_key = f"{stream}:relay-lock"
        self.stop = stop or threading.Event()
        self.batch_size = batch_size or setting("EVENTS_RELAY_BATCH_SIZE")
        self.block_ms = block_ms
        self.lease_ms = lease_ms
        self.token = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.stats = RedisRelayStats()
        self._producer: Any = None
        self._known_topics: set[str] = set()
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    # --- loop ----------------------------------------------------------------------------------

    def run(self) -> None:
        backoff = Backoff(maximum=setting("EVENTS_MAX_BACKOFF_SECONDS"))
        heartbeat = Heartbeat()  # container health checks (EVENTS_HEARTBEAT_FILE), like the SQL relay
        try:
            while not self.stop.is_set():
                heartbeat.beat()
                event_counters.maybe_flush()
                try:
                    if not self.hold_lease():
                        self.stats.standby += 1
                        self.stop.wait(min(0.5, self.lease_ms / 4000))
                        continue
                    published = self.relay_batch()
                    backoff.reset()
                    if published < self.batch_size:
                        self.wait_for_entries()
                except (KafkaError, PublishFailed) as exc:
                    self._broker_failed(exc)
                    if backoff.wait(self.stop):
                        break
                except redis.RedisError as exc:
                    self.stats.failures += 1
                    logger.warning("relay: Redis unavailable (%s); retrying", exc)
                    if backoff.wait(self.stop):
                        break
        finally:
            self._close_producer()
            with contextlib.suppress(redis.RedisError):  # else the lease expires by itself
                self._release(keys=[self.lock_key], args=[self.token])

    def hold_lease(self) -> bool:
        """Take the lease, or renew it if it is ours."""
        if self.client.set(self.lock_key, self.token, nx=True, px=self.lease_ms):
            return True
        return bool(self._renew(keys=[self.lock_key], args=[self.token, self.lease_ms]))

    def wait_for_entries(self) -> None:
        # The stream holds only unsent entries, so reading from 0 returns at once when any is
        # pending and otherwise blocks until one is added (bounded, to renew the lease).
        self.client.xread({self.stream: "0-0"}, count=1, block=self.block_ms)

    # --- one batch -------------------------------------------------------------------------------

    def relay_batch(self) -> int:
        entries = self.client.xrange(self.stream, min="-", max="+", count=self.batch_size)
        if not entries:
            return 0
        acked, failure = self._publish(entries)
        if acked:
            # Trim only what the broker acknowledged: the rest is published again next time.
            self.client.xdel(self.stream, *acked)
            event_counters.incr("relay", "published", "", len(acked))  # /metrics/ (events_relay_published_total)
            self.stats.published += len(acked)
            self.stats.batches += 1
        if failure is not None:
            raise PublishFailed(f"{len(entries) - len(acked)} of {len(entries)} event(s) not acknowledged: {failure}")
        return len(entries)

    def _publish(self, entries: list[tuple[Any, dict[Any, Any]]]) -> tuple[list[Any], Exception | None]:
        producer = self._ensure_producer()
        decoded = [(entry_id, {_text(k): v for k, v in fields.items()}) for entry_id, fields in entries]
        new_topics = {_text(fields["topic"]) for _, fields in decoded} - self._known_topics
        if new_topics:
            topics.ensure_topics(new_topics)
            self._known_topics |= new_topics
        sent = []
        failure: Exception | None = None
        try:
            for entry_id, fields in decoded:
                raw = fields["envelope"]
                value = raw.encode() if isinstance(raw, str) else raw
                envelope = Envelope.from_json(value)
                future = producer.send(
                    _text(fields["topic"]),
                    key=_text(fields["key"]).encode(),
                    value=value,
                    headers=[
                        ("event_type", envelope.event_type.encode()),
                        ("event_id", str(envelope.event_id).encode()),
                        ("correlation_id", envelope.correlation_id.encode()),
                        ("content_type", b"application/json"),
                    ],
                )
                sent.append((entry_id, future))
        except KafkaError as exc:
            failure = exc  # stop at the first entry that could not even be queued: order matters
        try:
            producer.flush(timeout=setting("EVENTS_RELAY_FLUSH_TIMEOUT_SECONDS"))
        except KafkaError as exc:
            failure = failure or exc
        acked = []
        for entry_id, future in sent:
            if future.succeeded():
                acked.append(entry_id)
            elif failure is None:
                failure = future.exception or KafkaError("not acknowledged in time")
        return acked, failure

    # --- producer lifecycle ----------------------------------------------------------------------

    def _ensure_producer(self) -> Any:
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
        self.stats.failures += 1
        logger.warning("relay: broker unavailable (%s: %s); events stay in the stream, retrying", type(exc).__name__, exc)
        self._close_producer()
        self._known_topics.clear()


def stream_backlog_lines(client: redis.Redis, stream: str, service: str) -> list[str]:
    """/metrics/ lines of a Redis-stream outbox, named like the SQL outbox's (backlog, oldest age)."""
    import time

    pending = client.xlen(stream)
    first = client.xrange(stream, count=1)
    oldest_ms = int(_text(first[0][0]).split("-")[0]) if first else None  # stream ids start with a ms timestamp
    age = max(0.0, time.time() - oldest_ms / 1000) if oldest_ms else 0.0
    return [
        "# HELP events_outbox_pending Outbox entries not yet published by the relay (the backlog).",
        "# TYPE events_outbox_pending gauge",
        f'events_outbox_pending{{service="{service}"}} {pending}',
        "# HELP events_outbox_oldest_pending_seconds Age of the oldest unpublished outbox entry.",
        "# TYPE events_outbox_oldest_pending_seconds gauge",
        f'events_outbox_oldest_pending_seconds{{service="{service}"}} {age:.3f}',
    ]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
