"""OpenTelemetry traces: Django requests, psycopg queries, Redis calls and the Kafka hop.

Off by default. On when the environment names an exporter, the standard OTel way:
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) -> OTLP over HTTP, or
`OTEL_TRACES_EXPORTER=console`; `OTEL_SDK_DISABLED=true` wins. `OTEL_SERVICE_NAME` names the
service (default SERVICE_NAME); the other OTEL_* variables (sampler, headers, ...) work as usual.

The Kafka hop: `record_event` stores the W3C `traceparent` of the current span with the outbox
row (OutboxEvent.trace_context, filled at record time by the field's default); the relay sends it
as the `traceparent` Kafka header from a PRODUCER span; the consumer extracts it and runs the
handlers in a CONSUMER span of the same trace. So one trace goes gateway -> service -> Kafka ->
service -> Kafka -> ... even though the relay publishes later, from another process.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

logger = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("common.events")
_configured = False


def exporter_from_environment() -> Any | None:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if choice == "none":
        return None
    if choice == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if choice == "otlp" or endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def configure(service_name: str, exporter: Any | None = None) -> bool:
    """Install the tracer provider and the instrumentations once per process; False when tracing is off."""
    global _configured
    if _configured:
        return True
    exporter = exporter or exporter_from_environment()
    if exporter is None:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    instrument_libraries()
    _configured = True
    logger.info("tracing: on (%s)", type(exporter).__name__)
    return True


def instrument_libraries() -> None:
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (DjangoInstrumentor(), PsycopgInstrumentor(), RedisInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()


# --- the Kafka hop ------------------------------------------------------------------------------


def current_traceparent() -> str:
    """The W3C traceparent of the current span, or "" outside a sampled trace."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT, "")


def context_of(traceparent: str | bytes | None) -> Context | None:
    if not traceparent:
        return None
    value = traceparent.decode("ascii", "replace") if isinstance(traceparent, bytes) else traceparent
    return _propagator.extract({TRACEPARENT: value})


def traceparent_header(headers: list[tuple[str, bytes]] | None) -> bytes | None:
    for key, value in headers or ():
        if key == TRACEPARENT:
            return value
    return None


@contextmanager
def publish_span(topic: str, traceparent: str) -> Iterator[list[tuple[str, bytes]]]:
    """A PRODUCER span in the trace that recorded the event; yields the headers that carry it on.

    With tracing off in the relay the span does not record, but the header still carries the
    recorded context, so the trace continues in the consumer."""
    parent = context_of(traceparent)
    if parent is None:
        yield []
        return
    with _tracer.start_as_current_span(f"{topic} publish", context=parent, kind=SpanKind.PRODUCER,
                                       attributes={"messaging.system": "kafka", "messaging.destination.name": topic}):
        header = current_traceparent() or traceparent
        yield [(TRACEPARENT, header.encode("ascii"))]


@contextmanager
def process_span(record: Any, event_type: str) -> Iterator[None]:
    """A CONSUMER span, child of the record's traceparent header, around the handlers of one event."""
    parent = context_of(traceparent_header(record.headers))
    if parent is None:
        yield
        return
    attributes = {"messaging.system": "kafka", "messaging.destination.name": record.topic,
                  "messaging.kafka.destination.partition": record.partition, "messaging.kafka.message.offset": record.offset,
                  "messaging.event_type": event_type}
    with _tracer.start_as_current_span(f"{record.topic} process", context=parent, kind=SpanKind.CONSUMER,
                                       attributes=attributes):
        yield


def traced(record: Any, registrations: list[Any]) -> list[Any]:
    """The handlers, each run in a CONSUMER span continuing the record's trace (same names: idempotency unchanged)."""
    if traceparent_header(record.headers) is None:
        return registrations
    from common.events.handlers import Registration

    def in_span(handler: Any) -> Any:
        # wraps: keeps the handler's marks (e.g. redis_processing's); *args: Redis handlers also get a pipe.
        @functools.wraps(handler)
        def run(envelope: Any, *args: Any) -> None:
            with process_span(record, envelope.event_type):
                handler(envelope, *args)

        return run

    return [Registration(r.name, in_span(r.handler), r.reset) for r in registrations]
