"""Write side: append an event to the outbox in the caller's transaction.

Nothing is published here. The event becomes visible to the relay when (and only if) the
caller's transaction commits; a rollback takes the event with it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.correlation import current_or_new_correlation_id
from common.events.conf import service_name, setting
from common.events.context import current_actor, current_causation_id
from common.events.envelope import Envelope, InvalidEnvelope
from common.events.models import OutboxEvent

TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")


@dataclass(frozen=True)
class NewEvent:
    """One event to append; `record_events` takes many (one INSERT for all)."""

    topic: str
    event_type: str
    aggregate_id: str
    payload: dict[str, Any]
    schema_version: int = 1


def record_event(
    *, topic: str, event_type: str, aggregate_id: str, payload: dict[str, Any], schema_version: int = 1
) -> OutboxEvent:
    """Append one event to the outbox; must be called inside the caller's `transaction.atomic()`.

    Call it after the aggregate's row is locked or written: that keeps the outbox order equal to
    the commit order for the aggregate, which is the order consumers will see. `actor`,
    `causation_id` and `correlation_id` come from the context (common.events.context).
    """
    _require_transaction()
    row = _row(NewEvent(topic, event_type, str(aggregate_id), payload, schema_version), current_or_new_correlation_id())
    row.save(force_insert=True)
    return row


def record_events(events: Iterable[NewEvent]) -> list[OutboxEvent]:
    """Append many events in one INSERT (bulk writes, seeds), in the given order, in the caller's transaction."""
    _require_transaction()
    correlation_id = current_or_new_correlation_id()  # one batch, one correlation even outside a request
    rows = [_row(event, correlation_id) for event in events]
    return OutboxEvent.objects.bulk_create(rows, batch_size=1000) if rows else []


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event() must be called inside transaction.atomic(), with the change it describes.")


def _row(event: NewEvent, correlation_id: str) -> OutboxEvent:
    return OutboxEvent.from_envelope(new_envelope(event, correlation_id), topic=event.topic)


def new_envelope(event: NewEvent, correlation_id: str | None = None) -> Envelope:
    """The validated envelope of a new event, stamped from the context (actor, causation, correlation).
    The one place envelopes are made, for the SQL outbox and the Redis-stream one (redis_outbox)."""
    correlation_id = correlation_id or current_or_new_correlation_id()
    topic, event_type = event.topic, event.event_type
    if not TOPIC_NAME.match(topic) or len(topic) > 200:
        raise InvalidEnvelope(f"topic: {topic!r} is not a valid topic name")
    if not event_type.startswith(f"{topic}."):
        raise InvalidEnvelope(f"event_type: {event_type!r} does not belong to topic {topic!r}")
    envelope = Envelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=event.schema_version,
        aggregate_id=str(event.aggregate_id),
        occurred_at=timezone.now(),
        producer=service_name(),
        correlation_id=correlation_id,
        payload=event.payload,
        actor=current_actor(),
        causation_id=current_causation_id(),
    )
    size = len(envelope.to_json())  # also proves the payload is plain JSON
    if size > setting("EVENTS_MAX_PAYLOAD_BYTES"):
        raise InvalidEnvelope(f"event is {size} bytes, above EVENTS_MAX_PAYLOAD_BYTES; publish a reference instead")
    return envelope
