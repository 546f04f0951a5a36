"""Explicit topic creation (partitions > 1, keyed by aggregate id). Never rely on auto-creation:
the broker would pick its own partition count, and the key -> partition mapping with it."""

from __future__ import annotations

from collections.abc import Iterable

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from common.events import bridge, clients
from common.events.conf import dead_letter_topic, setting


def service_topics() -> list[str]:
    """Every topic this service publishes to or consumes, plus the dead-letter topic of each consumed one."""
    published = {*setting("EVENTS_PUBLISH_TOPICS"), *bridge.bridged_topics()}
    consumed = set(setting("EVENTS_CONSUME_TOPICS"))
    return sorted(published | consumed | {dead_letter_topic(topic) for topic in consumed})


def ensure_topics(topics: Iterable[str]) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    wanted = sorted(set(topics))
    if not wanted:
        return []
    client = clients.admin()
    try:
        existing = set(client.list_topics())
        missing = [topic for topic in wanted if topic not in existing]
        created = []
        for topic in missing:
            try:
                client.create_topics(
                    [NewTopic(topic, setting("EVENTS_TOPIC_PARTITIONS"), setting("EVENTS_TOPIC_REPLICATION_FACTOR"))]
                )
                created.append(topic)
            except TopicAlreadyExistsError:
                pass  # another process created it in between
        return created
    finally:
        client.close()
