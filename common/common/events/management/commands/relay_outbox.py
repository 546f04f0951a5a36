"""Publish committed outbox events to Kafka until SIGTERM (run one or more per service)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from common.events.conf import bootstrap_servers
from common.events.relay import OutboxRelay
from common.events.shutdown import stop_on_signals

logger = logging.getLogger("common.events.relay")


class Command(BaseCommand):
    help = "Relay the transactional outbox to Kafka (several instances are safe: one batch in flight at a time)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="Rows per batch (EVENTS_RELAY_BATCH_SIZE).")

    def handle(self, *args: Any, batch_size: int | None = None, **options: Any) -> None:
        relay = OutboxRelay(stop=stop_on_signals(), batch_size=batch_size)
        logger.info("relay: started, publishing to %s", ",".join(bootstrap_servers()))
        relay.run()
        logger.info("relay: stopped (%s)", relay.stats)
