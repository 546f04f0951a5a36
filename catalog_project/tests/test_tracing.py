"""OpenTelemetry: one trace from an HTTP request through the outbox, the relay, Kafka and the
consumer (twice), seen by the SDK's in-memory exporter; real broker, real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from common.events.handlers import handles
from common.events.models import OutboxEvent
from common.events.outbox import record_event
from common.events.testing import unique_topic
from common.observability import tracing
from common.testing.polling import wait_until
from django.db import transaction
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

pytestmark = pytest.mark.usefixtures("transactional_db")
EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """A recording tracer provider for this process (OpenTelemetry allows setting it once)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)
    yield EXPORTER
    EXPORTER.clear()


def trace_id_of(traceparent: str | bytes) -> int:
    text = traceparent.decode() if isinstance(traceparent, bytes) else traceparent
    return int(text.split("-")[1], 16)


def current_trace_id() -> int:
    return trace.get_current_span().get_span_context().trace_id


def test_one_trace_id_crosses_two_kafka_hops(spans, run_relay, run_consumer, topic_reader) -> None:
    placed, reserved = unique_topic("trace"), unique_topic("trace")
    seen: dict[str, int] = {}

    @handles(f"{placed}.placed")
    def on_placed(event) -> None:  # like the catalog reserving stock for an order ...
        seen["placed"] = current_trace_id()
        record_event(topic=reserved, event_type=f"{reserved}.reserved", aggregate_id=event.aggregate_id, payload={})

    @handles(f"{reserved}.reserved")
    def on_reserved(event) -> None:  # ... and the orders service hearing back
        seen["reserved"] = current_trace_id()

    with trace.get_tracer("test").start_as_current_span("checkout") as root, transaction.atomic():
        row = record_event(topic=placed, event_type=f"{placed}.placed", aggregate_id=f"order-{uuid.uuid4()}", payload={})
    trace_id = root.get_span_context().trace_id
    assert trace_id_of(row.trace_context) == trace_id, "the outbox row keeps the trace context of its recording"

    run_relay()
    run_consumer(topics=[placed, reserved])
    wait_until(lambda: "reserved" in seen, timeout=60, what="the second hop")
    assert seen == {"placed": trace_id, "reserved": trace_id}
    record = topic_reader(placed).read_until(bool, what="the published event")[0]
    assert trace_id_of(dict(record.headers)["traceparent"]) == trace_id, "Kafka header carries the trace"
    in_trace = {(span.name, span.kind) for span in spans.get_finished_spans() if span.context.trace_id == trace_id}
    for topic in (placed, reserved):
        assert (f"{topic} publish", SpanKind.PRODUCER) in in_trace
        assert (f"{topic} process", SpanKind.CONSUMER) in in_trace


def test_without_a_trace_nothing_is_stored_or_sent(spans, run_relay, topic_reader) -> None:
    topic = unique_topic("trace")
    with transaction.atomic():
        row = record_event(topic=topic, event_type=f"{topic}.happened", aggregate_id="x", payload={})
    assert row.trace_context == ""
    run_relay()
    record = topic_reader(topic).read_until(bool, what="the published event")[0]
    assert "traceparent" not in dict(record.headers)


def test_a_request_with_traceparent_is_traced_into_the_outbox(spans, gql) -> None:
    tracing.instrument_libraries()  # what configure() does when OTLP is switched on
    try:
        incoming = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        body = gql.execute(
            "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }",
            {"input": {"sku": f"TR-{uuid.uuid4().hex[:8]}", "name": "Traced lamp", "price": "9.00", "stockQuantity": 1}},
            HTTP_TRACEPARENT=incoming,
        )
        assert "errors" not in body, body
        row = OutboxEvent.objects.filter(event_type__startswith="catalog.product.").latest("id")
        assert trace_id_of(row.trace_context) == trace_id_of(incoming)
        kinds = {span.kind for span in spans.get_finished_spans() if span.context.trace_id == trace_id_of(incoming)}
        assert SpanKind.SERVER in kinds and SpanKind.CLIENT in kinds, "Django's request span and psycopg's query spans"
    finally:
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        for instrumentor in (DjangoInstrumentor(), PsycopgInstrumentor(), RedisInstrumentor()):
            instrumentor.uninstrument()
