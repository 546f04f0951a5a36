"""Tables of the event backbone, in the service's own database.

OutboxEvent: events a command recorded in its transaction, waiting for the relay (write side).
ProcessedEvent: which handler already applied which event (consumer side), written in the
handler's transaction, so a redelivered event has no second effect.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from common.events.envelope import Envelope
from common.observability.tracing import current_traceparent


class OutboxEvent(models.Model):
    # The id orders the outbox. Commands lock (or write) the aggregate row before recording its
    # event, so for one aggregate the id order is the commit order and the relay keeps it.
    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True, editable=False)
    topic = models.CharField(max_length=249)
    event_type = models.CharField(max_length=200)
    aggregate_id = models.CharField(max_length=200)
    schema_version = models.PositiveIntegerField(default=1)
    payload = models.JSONField()
    producer = models.CharField(max_length=100)
    correlation_id = models.CharField(max_length=128)
    # Who the change was made for (user id, or "system") and the event whose handling caused it.
    actor = models.CharField(max_length=128, default="system")
    causation_id = models.UUIDField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    # W3C traceparent of the span that recorded the event ("" outside a trace), taken when the row
    # is built, however it is built; the relay sends it on as a Kafka header (common.observability).
    trace_context = models.CharField(max_length=64, blank=True, default=current_traceparent)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's scan: pending rows in id order (small, because sent rows leave it).
            models.Index(fields=["id"], condition=models.Q(sent_at__isnull=True), name="outbox_pending"),
            # Pruning old sent rows.
            models.Index(fields=["sent_at"], condition=models.Q(sent_at__isnull=False), name="outbox_sent"),
            # One aggregate's history, in order (operations, debugging).
            models.Index(fields=["aggregate_id", "id"], name="outbox_aggregate"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event_type} {self.aggregate_id}"

    @classmethod
    def from_envelope(cls, envelope: Envelope, *, topic: str) -> OutboxEvent:
        """An unsaved outbox row holding exactly the envelope's fields (the inverse of `to_envelope`)."""
        return cls(
            event_id=envelope.event_id,
            topic=topic,
            event_type=envelope.event_type,
            aggregate_id=envelope.aggregate_id,
            schema_version=envelope.schema_version,
            payload=envelope.payload,
            producer=envelope.producer,
            correlation_id=envelope.correlation_id,
            actor=envelope.actor,
            causation_id=envelope.causation_id,
            occurred_at=envelope.occurred_at,
        )

    def to_envelope(self) -> Envelope:
        return Envelope(
            event_id=self.event_id,
            event_type=self.event_type,
            schema_version=self.schema_version,
            aggregate_id=self.aggregate_id,
            occurred_at=self.occurred_at,
            producer=self.producer,
            correlation_id=self.correlation_id,
            payload=self.payload,
            actor=self.actor,
            causation_id=self.causation_id,
        )


class ProcessedEvent(models.Model):
    # One row per (event, handler): a rebuild can replay one read model's handlers without
    # touching what other handlers of the same event did.
    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField()
    handler = models.CharField(max_length=255)
    event_type = models.CharField(max_length=200)
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id", "handler"], name="processed_event_once")]
        indexes = [models.Index(fields=["processed_at"], name="processed_event_age")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} by {self.handler}"
