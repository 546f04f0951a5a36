"""Consume this service's topics (EVENTS_CONSUME_TOPICS) as group SERVICE_NAME until SIGTERM."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from common.events.consumer import EventConsumer
from common.events.shutdown import stop_on_signals

logger = logging.getLogger("common.events.consumer")


class Command(BaseCommand):
    help = "Run the event consumer: handlers in one transaction each, idempotent, dead-letter topic on failure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--topics", default=None, help="Comma-separated topics (default EVENTS_CONSUME_TOPICS).")
        parser.add_argument("--group", default=None, help="Consumer group (default SERVICE_NAME).")

    def handle(self, *args: Any, topics: str | None = None, group: str | None = None, **options: Any) -> None:
        consumer = EventConsumer(
            topics=[t.strip() for t in topics.split(",") if t.strip()] if topics else None,
            group_id=group,
            stop=stop_on_signals(),
        )
        logger.info("consumer: group %s reading %s", consumer.group_id, ", ".join(consumer.topics))
        consumer.run()
        logger.info("consumer: stopped (%s)", consumer.stats)
