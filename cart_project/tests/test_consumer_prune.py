"""The cart's consumer survives a database or Redis error while pruning processed events: it logs,
counts and carries on (like a transient error in a batch), instead of ending the worker."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import redis
from cart.consuming import applier
from common.events import consumer as consumer_module
from common.events.consumer import EventConsumer
from common.events.models import ProcessedEvent
from django.db import OperationalError
from django.utils import timezone


class BrokenConnection:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def cursor(self) -> None:  # stands in for django.db.connection
        raise self.error


@pytest.mark.parametrize("error", [OperationalError("server closed the connection unexpectedly"),
                                   redis.ConnectionError("Connection refused")], ids=["database", "redis"])
def test_a_store_error_while_pruning_is_logged_counted_and_survived(monkeypatch, caplog, error):
    consumer = EventConsumer(applier=applier())
    recovered = []
    monkeypatch.setattr(consumer.applier, "recover", lambda: recovered.append(True))
    monkeypatch.setattr(consumer_module, "connection", BrokenConnection(error))
    with caplog.at_level(logging.WARNING, logger="common.events.consumer"):
        consumer.prune_if_due()  # raised before: the loop catches only broker errors, the worker ended
    assert consumer.stats.prune_failures == 1
    assert recovered == [True]  # fresh connections for what comes next
    assert "pruning processed events failed" in caplog.text
    consumer.prune_if_due()  # not due again before the interval
    assert consumer.stats.prune_failures == 1


def test_a_programming_error_while_pruning_is_not_hidden(monkeypatch):
    consumer = EventConsumer(applier=applier())
    monkeypatch.setattr(consumer_module, "connection", BrokenConnection(TypeError("a bug")))
    with pytest.raises(TypeError):
        consumer.prune_if_due()


@pytest.mark.django_db
def test_pruning_still_deletes_old_markers():
    old = ProcessedEvent.objects.create(event_id="00000000-0000-0000-0000-000000000001", handler="h", event_type="t",
                                        processed_at=timezone.now() - timedelta(days=365))
    EventConsumer(applier=applier()).prune_if_due()
    assert not ProcessedEvent.objects.filter(pk=old.pk).exists()
