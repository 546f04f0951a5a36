"""Django's PostgreSQL backend (psycopg 3), with a health check that costs no round trip when it can, and
timestamps decoded by psycopg's C loader.

With `CONN_HEALTH_CHECKS` (set by common.settings.database_config) Django checks a persistent connection
before its first use in every request with `SELECT 1`: a whole round trip to PostgreSQL, ~15 % of the
catalog's uncached list (docs/performance.md §2). What the check exists for, a backend that PostgreSQL
terminated or a server that restarted, always leaves something to read on the idle socket: the FATAL
message and the end of the stream. So: nothing to read and psycopg reports the connection open and idle
-> usable, no query; anything else (pending input, a closed or broken connection, a transaction left
open) -> Django's own `SELECT 1` check decides, exactly as before.

Timestamps: Django registers a `timestamptz` loader that subclasses psycopg's pure-Python one (to set the
connection's time zone on every value), so every timestamp is parsed in Python, ~4 µs each: two columns
of every product row, 6 % of a list(100). Here the loader delegates the parsing to psycopg's C loader
(~0.5 µs) and sets the same time zone the same way (`replace(tzinfo=...)`, so values are identical, the
C loader already answers in the session's time zone, which Django sets to the connection's).
"""

from __future__ import annotations

import select
from functools import lru_cache
from typing import Any

from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper
from psycopg import adapt, pq

try:  # the C implementation (psycopg[binary] or psycopg[c])
    from psycopg_binary._psycopg import TimestamptzLoader as _CTimestamptzLoader
except ImportError:  # pragma: no cover
    try:
        from psycopg_c._psycopg import TimestamptzLoader as _CTimestamptzLoader
    except ImportError:
        _CTimestamptzLoader = None

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


def _timestamptz_loader(timezone: Any) -> type[adapt.Loader]:
    class TimestamptzLoader(adapt.Loader):
        # Django's create_cursor compares this with the connection's time zone, as for its own loader.
        timezone: Any = None

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._load = _CTimestamptzLoader(oid, context).load

        def load(self, data: Any) -> Any:
            value = self._load(data)
            # What Django's loader returns: the parsed value with the connection's tzinfo.
            return value if value.tzinfo is self.timezone else value.replace(tzinfo=self.timezone)

    TimestamptzLoader.timezone = timezone
    return TimestamptzLoader


@lru_cache
def _fast_adapters(template: adapt.AdaptersMap) -> adapt.AdaptersMap:
    """Django's adapters map (one per time zone, cached by Django too) with the C-backed timestamp loader."""
    oid = template.types["timestamptz"].oid
    timezone = template.get_loader(oid, pq.Format.TEXT).timezone  # type: ignore[union-attr]
    adapters = adapt.AdaptersMap(template)
    adapters.register_loader("timestamptz", _timestamptz_loader(timezone))
    return adapters


class DatabaseWrapper(PostgreSQLDatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        template = params.get("context")
        if _CTimestamptzLoader is not None and template is not None:
            params["context"] = _fast_adapters(template)
        return params

    def is_usable(self) -> bool:
        if self.connection is not None and _quiet(self.connection):
            return True
        return super().is_usable()
