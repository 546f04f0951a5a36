"""Django's PostgreSQL backend (psycopg 3), with a health check that costs no round trip when it can.

With `CONN_HEALTH_CHECKS` (set by common.settings.database_config) Django checks a persistent connection
before its first use in every request with `SELECT 1`: a whole round trip to PostgreSQL, ~15 % of the
catalog's uncached list (docs/performance.md §2). What the check exists for, a backend that PostgreSQL
terminated or a server that restarted, always leaves something to read on the idle socket: the FATAL
message and the end of the stream. So: nothing to read and psycopg reports the connection open and idle
-> usable, no query; anything else (pending input, a closed or broken connection, a transaction left
open) -> Django's own `SELECT 1` check decides, exactly as before.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper
from psycopg import pq

__all__ = ["DatabaseWrapper"]


def _quiet(connection: object) -> bool:
    """The connection is open, idle outside a transaction, and nothing arrived on its socket."""
    try:
        pgconn = connection.pgconn  # type: ignore[attr-defined]
        if connection.closed or connection.broken:  # type: ignore[attr-defined]
            return False
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
        return not poller.poll(0)  # POLLIN, POLLHUP or POLLERR: let the real check look
    except Exception:  # any doubt: ask PostgreSQL
        return False


class DatabaseWrapper(PostgreSQLDatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is not None and _quiet(self.connection):
            return True
        return super().is_usable()
