"""Create this service's topics explicitly (published, consumed and their dead-letter topics)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from common.events.conf import setting
from common.events.topics import ensure_topics, service_topics


class Command(BaseCommand):
    help = "Create the Kafka topics this service publishes to and consumes (with EVENTS_TOPIC_PARTITIONS partitions)."

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = service_topics()
        created = ensure_topics(wanted)
        for topic in wanted:
            state = f"created ({setting('EVENTS_TOPIC_PARTITIONS')} partitions)" if topic in created else "exists"
            self.stdout.write(f"{topic}: {state}")
