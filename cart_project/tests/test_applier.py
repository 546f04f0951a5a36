"""The cart's consumer apply step: Redis handlers record "applied" in Redis with their effect;
SQL handlers (the user replica's) keep the SQL bookkeeping of common.events."""

from __future__ import annotations

import uuid

import pytest
from cart import store
from cart.consuming import applier
from common.events.envelope import Envelope
from common.events.handlers import handlers_for, handles
from common.events.models import ProcessedEvent
from common.events.redis_processing import handles_in_redis
from django.utils import timezone

calls: list[str] = []


@handles("cart.test.sql_thing")
def sql_handler(event: Envelope) -> None:
    calls.append(f"sql {event.event_id}")


@handles_in_redis("cart.test.sql_thing")
def redis_handler(event: Envelope, pipe) -> None:
    pipe.multi()
    pipe.incr(store.key("test-counter"))


def envelope() -> Envelope:
    return Envelope(event_id=uuid.uuid4(), event_type="cart.test.sql_thing", schema_version=1, aggregate_id="x",
                    occurred_at=timezone.now(), producer="test", correlation_id="test", payload={})


@pytest.mark.django_db
def test_each_handler_runs_once_with_its_own_bookkeeping():
    event = envelope()
    registrations = handlers_for(event.event_type)
    assert applier().apply_event(event, registrations) == {
        "tests.test_applier.sql_handler", "tests.test_applier.redis_handler"}
    assert applier().apply_event(event, registrations) == set()  # redelivered
    assert calls.count(f"sql {event.event_id}") == 1
    assert store.client().get(store.key("test-counter")) == "1"
    assert ProcessedEvent.objects.filter(event_id=event.event_id, handler="tests.test_applier.sql_handler").exists()
    assert not ProcessedEvent.objects.filter(handler="tests.test_applier.redis_handler").exists()


@pytest.mark.django_db
def test_a_failing_redis_handler_leaves_no_marker_and_no_effect():
    @handles_in_redis("cart.test.failing")
    def failing(event: Envelope, pipe) -> None:
        pipe.multi()
        pipe.incr(store.key("half-written"))
        raise RuntimeError("boom")

    event = Envelope(event_id=uuid.uuid4(), event_type="cart.test.failing", schema_version=1, aggregate_id="x",
                     occurred_at=timezone.now(), producer="test", correlation_id="test", payload={})
    with pytest.raises(RuntimeError):
        applier().apply_event(event, handlers_for(event.event_type))
    assert store.client().get(store.key("half-written")) is None
    assert not list(store.client().scan_iter(match=store.processed_prefix() + "*"))


@pytest.mark.django_db
def test_redis_handlers_keep_working_inside_a_trace_span():
    """A record that carries a trace (traceparent header) has its handlers wrapped in a span."""
    from types import SimpleNamespace

    from common.observability.tracing import TRACEPARENT, traced

    event = envelope()
    record = SimpleNamespace(headers=[(TRACEPARENT, b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")],
                             topic="cart.test", partition=0, offset=0)
    assert applier().apply_event(event, traced(record, handlers_for(event.event_type))) == {
        "tests.test_applier.sql_handler", "tests.test_applier.redis_handler"}
    assert store.client().get(store.key("test-counter")) == "1"
