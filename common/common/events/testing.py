"""pytest plugin for services that use common.events: `pytest_plugins = ["common.events.testing"]`.

Fixtures:
  kafka_broker     a real Tansu broker for the session, on a free loopback port (started lazily,
                   only when a test asks for it); `restart()` keeps the port and wipes the data
  events_settings  points the settings at that broker, with short backoffs for tests
  topic_reader     reads a topic from the beginning without a consumer group (no join delay)
  run_relay / run_consumer   an OutboxRelay / EventConsumer running in a thread, stopped at teardown

Tests that use the relay or a consumer need `transactional_db`: those run in other threads with
their own connections and only see committed rows. Everything waits by polling with a deadline
(`common.testing.polling.wait_until`).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from common.events.broker import TansuBroker
from common.testing.polling import wait_until
from common.testing.threads import Background


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[TansuBroker]:
    from django.conf import settings

    broker = TansuBroker().start()
    previous_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    previous_setting = settings.KAFKA_BOOTSTRAP_SERVERS
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers  # for subprocesses
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
    try:
        yield broker
    finally:
        broker.stop()
        settings.KAFKA_BOOTSTRAP_SERVERS = previous_setting
        if previous_env is None:
            os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        else:
            os.environ["KAFKA_BOOTSTRAP_SERVERS"] = previous_env


@pytest.fixture
def events_settings(settings: Any, kafka_broker: TansuBroker) -> Any:
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_broker.bootstrap_servers
    settings.EVENTS_MAX_BACKOFF_SECONDS = 0.5
    settings.EVENTS_HANDLER_RETRY_SECONDS = 0.05
    settings.EVENTS_HANDLER_MAX_ATTEMPTS = 3
    settings.EVENTS_RELAY_IDLE_SECONDS = 0.5
    return settings


def unique_topic(prefix: str = "test") -> str:
    return f"{prefix}.t{uuid.uuid4().hex[:12]}"


class TopicReader:
    """All records of a topic from offset 0, across partitions, without joining a group."""

    def __init__(self, topic: str) -> None:
        from common.events import clients, topics

        topics.ensure_topics([topic])
        self.topic = topic
        self.records: list[Any] = []
        self._consumer = clients.consumer(group_id=None, role="test-reader")
        partitions = wait_until(lambda: self._consumer.partitions_for_topic(topic), what=f"partitions of {topic}")
        from kafka import TopicPartition

        assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        self._consumer.assign(assigned)
        self._consumer.seek_to_beginning(*assigned)

    def read_until(self, predicate: Callable[[list[Any]], bool], *, timeout: float = 20, what: str = "") -> list[Any]:
        """Keep reading until `predicate(all records so far)` holds; returns all records read."""
        deadline = time.monotonic() + timeout
        while not predicate(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {self.topic} ({len(self.records)} records): {what}")
            for partition_records in self._consumer.poll(timeout_ms=100).values():
                self.records.extend(partition_records)
        return self.records

    def close(self) -> None:
        self._consumer.close(autocommit=False)


# Each factory fixture below registers how to stop what it started on an ExitStack: run at teardown.


@pytest.fixture
def topic_reader(events_settings: Any) -> Iterator[Callable[[str], TopicReader]]:
    with ExitStack() as stack:

        def open_reader(topic: str) -> TopicReader:
            reader = TopicReader(topic)
            stack.callback(reader.close)
            return reader

        yield open_reader


@pytest.fixture
def run_relay(events_settings: Any, transactional_db: None) -> Iterator[Callable[..., Any]]:
    from common.events.relay import OutboxRelay

    with ExitStack() as stack:

        def start(**options: Any) -> OutboxRelay:
            relay = OutboxRelay(**options)
            stack.callback(Background(relay).stop)
            return relay

        yield start


@pytest.fixture
def run_consumer(events_settings: Any, transactional_db: None) -> Iterator[Callable[..., Any]]:
    from common.events.consumer import EventConsumer

    with ExitStack() as stack:

        def start(*, topics: list[str], group_id: str | None = None) -> EventConsumer:
            consumer = EventConsumer(topics=topics, group_id=group_id or f"test-{uuid.uuid4().hex[:8]}")
            stack.callback(Background(consumer).stop)
            return consumer

        yield start
