"""Consumer bookkeeping in Redis: apply an event to a Redis-backed read model exactly once.

    @handles_in_redis("catalog.product.created", ...)
    def on_product(event: Envelope, pipe: redis.client.Pipeline) -> None:
        pipe.watch(key)                 # watch what you read,
        current = pipe.hgetall(key)     # read in immediate mode,
        pipe.multi()                    # then queue the writes
        pipe.hset(key, mapping=...)

`RedisApplier` (the consumer's EVENTS_APPLIER) watches the event's "processed" marker, skips the
event if the marker exists, runs the handler, and queues the marker in the same MULTI/EXEC as
the handler's writes: the effect and the "already applied" record commit together or not at
all. If a watched key changed meanwhile (a concurrent writer, a duplicate delivery), EXEC
aborts and the whole step is retried. Handlers registered with plain `@handles` (SQL) go to
the fallback applier in their own database transaction.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.exceptions import WatchError

from common.correlation import correlation_scope
from common.events.appliers import SqlApplier
from common.events.conf import setting
from common.events.context import causation_scope
from common.events.envelope import Envelope
from common.events.handlers import Handler, Registration, Reset, handles
from common.events.processing import Work

logger = logging.getLogger(__name__)

REDIS_HANDLER = "redis_transaction"
MAX_ATTEMPTS = 100


def handles_in_redis(*event_types: str, reset: Reset | None = None) -> Callable[[Handler], Handler]:
    """Like `@handles`, for a handler `(event, pipe)` whose effect is a Redis MULTI/EXEC."""

    def register(handler: Any) -> Any:
        setattr(handler, REDIS_HANDLER, True)
        return handles(*event_types, reset=reset)(handler)

    return register


def is_redis_handler(registration: Registration) -> bool:
    return bool(getattr(registration.handler, REDIS_HANDLER, False))


class RedisApplier:
    def __init__(self, client: Callable[[], redis.Redis], *, marker_prefix: Callable[[], str],
                 fallback: SqlApplier | None = None) -> None:
        self.client = client
        self.marker_prefix = marker_prefix
        self.fallback = fallback or SqlApplier()
        self.transient_errors = (redis.ConnectionError, redis.TimeoutError, *self.fallback.transient_errors)

    def apply_events(self, work: Sequence[Work]) -> list[set[str]]:
        return [self.apply_event(envelope, registrations) for envelope, registrations in work]

    def apply_event(self, envelope: Envelope, registrations: Sequence[Registration]) -> set[str]:
        in_sql = [r for r in registrations if not is_redis_handler(r)]
        ran = self.fallback.apply_event(envelope, in_sql) if in_sql else set()
        for registration in registrations:
            if is_redis_handler(registration) and self.apply_in_redis(envelope, registration):
                ran.add(registration.name)
        return ran

    def apply_in_redis(self, envelope: Envelope, registration: Registration) -> bool:
        """Run one handler once; False when this (event, handler) was applied before."""
        marker = f"{self.marker_prefix()}{envelope.event_id}:{registration.name}"
        retention = int(setting("EVENTS_PROCESSED_RETENTION_DAYS") * 24 * 3600)
        with self.client().pipeline() as pipe:
            for attempt in range(MAX_ATTEMPTS):
                try:
                    pipe.watch(marker)
                    if pipe.exists(marker):
                        pipe.reset()
                        return False
                    # Events the handler records carry this event's correlation and actor, and its id as cause.
                    with correlation_scope(envelope.correlation_id), \
                            causation_scope(envelope.event_id, actor=envelope.actor):
                        registration.handler(envelope, pipe)  # type: ignore[call-arg]
                    if not pipe.explicit_transaction:
                        pipe.multi()
                    pipe.set(marker, "1", ex=retention)
                    pipe.execute()
                    return True
                except WatchError:
                    time.sleep(random.uniform(0, 0.002 * min(attempt, 10)))  # noqa: S311 - jitter only
        raise RuntimeError(f"{registration.name}: {envelope.event_id} kept conflicting; retried {MAX_ATTEMPTS} times")

    def recover(self) -> None:
        self.fallback.recover()
