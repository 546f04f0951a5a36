"""The `CACHES` setting every service gets from `common.settings.defaults`.

Only builds dictionaries: it is imported while Django settings load.
"""

from __future__ import annotations

from typing import Any

# A cache that is down must cost a request milliseconds, not seconds: short socket timeouts,
# no retries inside redis-py (the caller falls back to the database instead).
CONNECT_TIMEOUT_SECONDS = 0.25
SOCKET_TIMEOUT_SECONDS = 0.25


def redis_caches(redis_url: str, *, max_connections: int = 50) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            # Prefixes Django cache-API keys with CACHE_KEY_PREFIX (default: the service name).
            "KEY_FUNCTION": "common.cache.keys.django_cache_key",
            "TIMEOUT": 300,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": CONNECT_TIMEOUT_SECONDS,
                "SOCKET_TIMEOUT": SOCKET_TIMEOUT_SECONDS,
                "CONNECTION_POOL_KWARGS": {"max_connections": max_connections, "health_check_interval": 30},
            },
        }
    }
