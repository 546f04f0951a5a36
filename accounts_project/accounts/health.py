"""Health check for the Redis that holds sessions, throttles and the shared auth registry."""

from __future__ import annotations

from common.auth import registry


def redis_check() -> None:
    registry.client().ping()
