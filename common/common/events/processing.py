"""Apply one event to this service's handlers, at most once per handler, in one transaction.

The consumer runner and the read-model rebuild both go through `apply_event`, so idempotency
and locking are the same on both paths.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from django.db import connection, transaction

from common.correlation import correlation_scope
from common.events.envelope import Envelope
from common.events.handlers import Registration
from common.events.models import ProcessedEvent

# Live handlers take it shared, a rebuild takes it exclusive: a rebuild never interleaves with them.
READ_MODEL_LOCK = zlib.crc32(b"common.events.read_models")


def claim(envelope: Envelope, handler_names: Sequence[str]) -> set[str]:
    """Record (event, handler) pairs not seen before; returns the handlers that still have to run.

    Runs in the handler's transaction: if the handler fails, the claim rolls back with it. A
    concurrent duplicate blocks on the unique index until the first commits, then claims nothing.
    """
    table = ProcessedEvent._meta.db_table
    rows = ", ".join(["(%s, %s, %s, clock_timestamp())"] * len(handler_names))
    params: list[object] = []
    for name in handler_names:
        params += [envelope.event_id, name, envelope.event_type]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (event_id, handler, event_type, processed_at) VALUES {rows} "  # noqa: S608 - fixed SQL
            "ON CONFLICT (event_id, handler) DO NOTHING RETURNING handler",
            params,
        )
        return {row[0] for row in cursor.fetchall()}


def apply_event(envelope: Envelope, registrations: Sequence[Registration], *, lock: bool = True) -> set[str]:
    """Run the handlers that have not handled this event yet; returns the names of those that ran."""
    with correlation_scope(envelope.correlation_id), transaction.atomic():
        if lock:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [READ_MODEL_LOCK])
        fresh = claim(envelope, [registration.name for registration in registrations])
        for registration in registrations:
            if registration.name in fresh:
                registration.handler(envelope)
        return fresh
