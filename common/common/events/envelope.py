"""The one envelope every event travels in, validated when it is recorded and when it is consumed.

On the wire it is a JSON object (UTF-8) with these fields; unknown extra fields are ignored on
the way in (tolerant reader) so producers can add fields without breaking consumers. `actor`
(user id or "system") and `causation_id` (the event that caused this one, or null) came later:
events without them are still valid and read as "system" / null.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){2,}$")  # service.aggregate.what_happened
PRODUCER = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
MAX_AGGREGATE_ID = 200
MAX_CORRELATION_ID = 128
MAX_ACTOR = 128
SYSTEM_ACTOR = "system"


class InvalidEnvelope(ValueError):
    """The message is not a valid event envelope; the reason says which rule it broke."""


@dataclass(frozen=True)
class Envelope:
    event_id: uuid.UUID
    event_type: str
    schema_version: int
    aggregate_id: str
    occurred_at: datetime
    producer: str
    correlation_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    actor: str = SYSTEM_ACTOR  # the user id the change was made for, or "system"
    causation_id: uuid.UUID | None = None  # the event whose handling recorded this one

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def topic(self) -> str:
        """The aggregate's topic by convention: `catalog.product.created` travels on `catalog.product`."""
        return self.event_type.rsplit(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "aggregate_id": self.aggregate_id,
            "occurred_at": self.occurred_at.isoformat(),
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "actor": self.actor,
            "causation_id": str(self.causation_id) if self.causation_id else None,
            "payload": self.payload,
        }

    def to_json(self) -> bytes:
        return encode_json(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str | None) -> Envelope:
        if raw is None:
            raise InvalidEnvelope("empty message")
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidEnvelope(f"not JSON: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Envelope:
        if not isinstance(data, dict):
            raise InvalidEnvelope("envelope must be a JSON object")
        missing = [name for name in FIELDS if name not in data]
        if missing:
            raise InvalidEnvelope(f"missing field(s): {', '.join(missing)}")
        for name, expected in FIELDS.items():
            value = data[name]
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise InvalidEnvelope(f"{name}: expected {expected.__name__}, got {type(value).__name__}")
        try:
            event_id = uuid.UUID(data["event_id"])
        except ValueError as exc:
            raise InvalidEnvelope("event_id: not a UUID") from exc
        try:
            occurred_at = datetime.fromisoformat(data["occurred_at"])
        except ValueError as exc:
            raise InvalidEnvelope("occurred_at: not an ISO 8601 timestamp") from exc
        actor = data.get("actor", SYSTEM_ACTOR)
        if not isinstance(actor, str):
            raise InvalidEnvelope(f"actor: expected str, got {type(actor).__name__}")
        causation = data.get("causation_id")
        if causation is not None:
            if not isinstance(causation, str):
                raise InvalidEnvelope(f"causation_id: expected str or null, got {type(causation).__name__}")
            try:
                causation = uuid.UUID(causation)
            except ValueError as exc:
                raise InvalidEnvelope("causation_id: not a UUID") from exc
        return cls(
            event_id=event_id,
            event_type=data["event_type"],
            schema_version=data["schema_version"],
            aggregate_id=data["aggregate_id"],
            occurred_at=occurred_at,
            producer=data["producer"],
            correlation_id=data["correlation_id"],
            payload=data["payload"],
            actor=actor,
            causation_id=causation,
        )


# Required field name -> JSON type on the wire (`actor` and `causation_id` are optional, see above).
FIELDS: dict[str, type] = {
    "event_id": str,
    "event_type": str,
    "schema_version": int,
    "aggregate_id": str,
    "occurred_at": str,
    "producer": str,
    "correlation_id": str,
    "payload": dict,
}


def encode_json(data: Any) -> bytes:
    """Strict JSON: no NaN, no custom encoders (payload builders convert Decimal, UUID, dates themselves)."""
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidEnvelope(f"not JSON-serializable: {exc}") from exc


def _validate(envelope: Envelope) -> None:
    if not isinstance(envelope.event_id, uuid.UUID):
        raise InvalidEnvelope("event_id: must be a UUID")
    if not isinstance(envelope.event_type, str) or not EVENT_TYPE.match(envelope.event_type):
        raise InvalidEnvelope("event_type: expected lowercase dotted name like 'catalog.product.created'")
    version = envelope.schema_version
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidEnvelope("schema_version: must be a positive integer")
    aggregate_id = envelope.aggregate_id
    if not isinstance(aggregate_id, str) or not aggregate_id or len(aggregate_id) > MAX_AGGREGATE_ID:
        raise InvalidEnvelope(f"aggregate_id: must be a non-empty string of at most {MAX_AGGREGATE_ID} characters")
    if not isinstance(envelope.occurred_at, datetime) or envelope.occurred_at.tzinfo is None:
        raise InvalidEnvelope("occurred_at: must be a timezone-aware timestamp")
    if not isinstance(envelope.producer, str) or not PRODUCER.match(envelope.producer):
        raise InvalidEnvelope("producer: must be a service name")
    correlation_id = envelope.correlation_id
    if not isinstance(correlation_id, str) or not correlation_id or len(correlation_id) > MAX_CORRELATION_ID:
        raise InvalidEnvelope(f"correlation_id: must be a non-empty string of at most {MAX_CORRELATION_ID} characters")
    actor = envelope.actor
    if not isinstance(actor, str) or not actor or len(actor) > MAX_ACTOR:
        raise InvalidEnvelope(f"actor: must be a user id or 'system', at most {MAX_ACTOR} characters")
    if envelope.causation_id is not None and not isinstance(envelope.causation_id, uuid.UUID):
        raise InvalidEnvelope("causation_id: must be a UUID or None")
    if not isinstance(envelope.payload, dict):
        raise InvalidEnvelope("payload: must be a JSON object")
