"""Apply events to this service's handlers, at most once per (event, handler), in one transaction
with their effects.

The consumer runner and the read-model rebuild both go through `apply_events`, so idempotency
and locking are the same on both paths.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence

from django.db import connection, transaction

from common.correlation import correlation_scope
from common.events.context import causation_scope
from common.events.envelope import Envelope
from common.events.handlers import Registration
from common.events.models import ProcessedEvent

# Live handlers take it shared, a rebuild takes it exclusive: a rebuild never interleaves with them.
READ_MODEL_LOCK = zlib.crc32(b"common.events.read_models")

Work = tuple[Envelope, Sequence[Registration]]


def lock_read_models_shared() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [READ_MODEL_LOCK])


def claim(pairs: Sequence[tuple[Envelope, str]]) -> set[tuple[uuid.UUID, str]]:
    """Record (event, handler) pairs not seen before, in one statement; returns the new ones.

    Runs in the handlers' transaction: if a handler fails, its claim rolls back with it. A
    concurrent duplicate blocks on the unique index until the first commits, then claims nothing.
    """
    if not pairs:
        return set()
    table = ProcessedEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (event_id, handler, event_type, processed_at) "  # noqa: S608 - fixed SQL
            "SELECT event_id, handler, event_type, clock_timestamp() "
            "FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS claimed(event_id, handler, event_type) "
            "ON CONFLICT (event_id, handler) DO NOTHING RETURNING event_id, handler",
            [[e.event_id for e, _ in pairs], [name for _, name in pairs], [e.event_type for e, _ in pairs]],
        )
        return {(row[0], row[1]) for row in cursor.fetchall()}


def apply_events(work: Sequence[Work], *, lock: bool = True) -> list[set[str]]:
    """Run, in order, the handlers that have not handled each event yet, all in one transaction
    (a savepoint inside the caller's). Returns, per event, the names of the handlers that ran."""
    with transaction.atomic():
        if lock:
            lock_read_models_shared()
        fresh = claim([(envelope, r.name) for envelope, registrations in work for r in registrations])
        results = []
        for envelope, registrations in work:
            ran = set()
            # Events a handler records carry this event's correlation id and actor, and its id as cause.
            with correlation_scope(envelope.correlation_id), causation_scope(envelope.event_id, actor=envelope.actor):
                for registration in registrations:
                    key = (envelope.event_id, registration.name)
                    if key in fresh:
                        fresh.discard(key)  # a second copy of the event in the same batch is a duplicate
                        registration.handler(envelope)
                        ran.add(registration.name)
            results.append(ran)
        return results


def apply_event(envelope: Envelope, registrations: Sequence[Registration], *, lock: bool = True) -> set[str]:
    return apply_events([(envelope, registrations)], lock=lock)[0]
