"""Access to the cache's Redis with graceful degradation.

A cache is an optimisation: when Redis fails, callers serve from the database. This module
turns Redis failures into `None` clients, logs them (rate-limited, so an outage does not
flood the log) and keeps a short per-process circuit breaker so a dead Redis costs one
timeout per cool-down period, not one per request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("common.cache")

try:  # django-redis wraps some failures in its own exception
    from django_redis.exceptions import ConnectionInterrupted
except ImportError:  # pragma: no cover - django-redis is pinned in requirements
    ConnectionInterrupted = RedisError  # type: ignore[misc,assignment]

# Anything Redis (or the socket under it) can raise.
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, ConnectionInterrupted, OSError)
# Failures that mean "Redis is unreachable": these open the circuit breaker.
_OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionInterrupted, OSError)


class LuaScript:
    """A Lua script run by EVALSHA (loaded on first use on each server)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1

    def __call__(self, client: Redis, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.eval(self.source, len(keys), *keys, *args)



def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def data_cache_enabled() -> bool:
    return bool(setting("CACHE_DATA_ENABLED", True))


def in_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Inside a transaction reads must see the transaction's own writes, and values computed
    from uncommitted rows must never be shared: the cache stays out of the way."""
    return connections[using].in_atomic_block


class _Breaker:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open_until = 0.0
        self.last_warning = 0.0
        self.suppressed = 0

    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def trip(self) -> None:
        cooldown = float(setting("CACHE_FAILURE_COOLDOWN", 1.0))
        with self.lock:
            self.open_until = time.monotonic() + cooldown

    def should_log(self) -> tuple[bool, int]:
        interval = float(setting("CACHE_WARNING_INTERVAL", 30.0))
        now = time.monotonic()
        with self.lock:
            if self.last_warning and now - self.last_warning < interval:
                self.suppressed += 1
                return False, 0
            suppressed, self.suppressed, self.last_warning = self.suppressed, 0, now
            return True, suppressed

    def reset(self) -> None:
        with self.lock:
            self.open_until = self.last_warning = 0.0
            self.suppressed = 0


breaker = _Breaker()


def report_failure(exc: BaseException, action: str) -> None:
    """Log (rate-limited) that the cache failed and the request is served without it."""
    if isinstance(exc, _OUTAGE_ERRORS):
        breaker.trip()
    log, suppressed = breaker.should_log()
    if log:
        more = f" ({suppressed} similar warnings suppressed)" if suppressed else ""
        logger.warning(
            "Cache degraded: Redis %s failed with %s: %s; serving from the database%s",
            action,
            exc.__class__.__name__,
            exc,
            more,
        )


def redis_client() -> Redis | None:
    """The cache's Redis client, or None while Redis is known to be failing."""
    if breaker.is_open():
        return None
    try:
        from django_redis import get_redis_connection

        return get_redis_connection(setting("CACHE_ALIAS", "default"))
    except REDIS_ERRORS as exc:
        report_failure(exc, "connect")
        return None
