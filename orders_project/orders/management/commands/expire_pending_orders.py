"""Reject orders left PENDING longer than ORDERS_PENDING_TIMEOUT_SECONDS (once, or `--loop` until SIGTERM)."""

from __future__ import annotations

import logging
from typing import Any

from common.events.shutdown import stop_on_signals
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import OperationalError, close_old_connections

from orders.commands import expire_pending_orders

logger = logging.getLogger("orders.expiry")


class Command(BaseCommand):
    help = "Reject PENDING orders older than the timeout (the catalog then releases any reservation)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep running, every ORDERS_EXPIRY_INTERVAL_SECONDS.")
        parser.add_argument("--timeout", type=float, default=None, help="Seconds (default ORDERS_PENDING_TIMEOUT_SECONDS).")

    def handle(self, *args: Any, loop: bool, timeout: float | None, **options: Any) -> None:
        if not loop:
            expired = expire_pending_orders(timeout_seconds=timeout)
            self.stdout.write(f"Expired {len(expired)} order(s).")
            return
        stop = stop_on_signals()
        logger.info("expiry: every %ss", settings.ORDERS_EXPIRY_INTERVAL_SECONDS)
        while not stop.is_set():
            try:
                expired = expire_pending_orders(timeout_seconds=timeout)
            except OperationalError as exc:  # the database is away: try again next round
                logger.warning("expiry: database error (%s)", exc)
                close_old_connections()
                expired = []
            if expired:
                logger.info("expiry: rejected %d order(s)", len(expired))
            stop.wait(settings.ORDERS_EXPIRY_INTERVAL_SECONDS)
