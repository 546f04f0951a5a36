"""Wake the relay when an outbox row commits, instead of polling the table in a tight loop.

A statement trigger on the outbox (see the migration) runs `NOTIFY events_outbox`; PostgreSQL
delivers it at commit and only then, so a rolled-back event never wakes anyone.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection

CHANNEL = "events_outbox"


class OutboxListener:
    """A dedicated autocommit connection LISTENing on the channel (Django's connection runs transactions)."""

    def __init__(self) -> None:
        self._connection: psycopg.Connection[Any] | None = None

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            params = {
                key: value
                for key, value in connection.get_connection_params().items()
                if key not in {"cursor_factory", "context", "prepare_threshold"}
            }
            self._connection = psycopg.connect(**params, autocommit=True)
            self._connection.execute(f"LISTEN {CHANNEL}")
        return self._connection

    def wait(self, timeout: float) -> bool:
        """Block until a notification or the timeout; True if notified. Extra notifications are drained."""
        try:
            received = any(True for _ in self._connect().notifies(timeout=timeout, stop_after=1))
            if received:
                for _ in self._connect().notifies(timeout=0):
                    pass
            return received
        except psycopg.Error:
            self.close()  # the database went away: the caller polls until it is back
            return False

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
