"""Publish the cart's Redis-stream outbox to Kafka until SIGTERM (several instances are safe)."""

from __future__ import annotations

import logging
from typing import Any

from common.events.conf import bootstrap_servers
from common.events.redis_outbox import RedisOutboxRelay
from common.events.shutdown import stop_on_signals
from django.core.management.base import BaseCommand, CommandParser

from cart import store

logger = logging.getLogger("common.events.relay")


class Command(BaseCommand):
    help = "Relay the cart's outbox stream (Redis) to Kafka; entries are deleted once the broker acknowledged them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="Entries per batch (EVENTS_RELAY_BATCH_SIZE).")

    def handle(self, *args: Any, batch_size: int | None = None, **options: Any) -> None:
        relay = RedisOutboxRelay(store.client(), stream=store.outbox_stream(), stop=stop_on_signals(),
                                 batch_size=batch_size)
        logger.info("relay: started, %s -> %s", store.outbox_stream(), ",".join(bootstrap_servers()))
        relay.run()
        logger.info("relay: stopped (%s)", relay.stats)
