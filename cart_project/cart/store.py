"""The cart's Redis: one client per process, the key layout, and outage translation.

Keys (all under CART_REDIS_PREFIX):
  cart:<cart id>        hash: user_id, version, created_at, updated_at, items (JSON list of
                        {product_id, quantity} in the order lines were added); anonymous carts expire
  product:<product id>  hash: the product read model (from catalog.product events)
  outbox                stream: cart events not yet acknowledged by Kafka (common.events.redis_outbox)
  processed:<event>:<handler>  consumer bookkeeping (common.events.redis_processing)
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
from common.errors import ServiceUnavailable
from django.conf import settings

T = TypeVar("T")

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def client() -> redis.Redis:
    """The cart Redis client for CART_REDIS_URL (a pool shared by the process's threads).

    Made under a lock: two threads racing on a worker's first requests would otherwise each build a
    client, and the one dropped closes its pool when collected (redis-py's auto_close_connection_pool)."""
    url = settings.CART_REDIS_URL
    found = _clients.get(url)
    if found is None:
        with _clients_lock:
            found = _clients.get(url)
            if found is None:
                timeout = settings.CART_REDIS_SOCKET_TIMEOUT
                found = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                             health_check_interval=30, decode_responses=True)
                _clients[url] = found
    return found


def key(*parts: str) -> str:
    return settings.CART_REDIS_PREFIX + ":".join(parts)


def cart_key(cart_id: str) -> str:
    return key("cart", cart_id)


def product_key(product_id: str) -> str:
    return key("product", product_id)


def outbox_stream() -> str:
    return key("outbox")


def processed_prefix() -> str:
    return key("processed") + ":"


@contextmanager
def available() -> Iterator[None]:
    """Redis unreachable -> ServiceUnavailable (a clean SERVICE_UNAVAILABLE error, never a 500)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise ServiceUnavailable("The cart store is unavailable; try again shortly.") from exc
    except ValueError as exc:
        # redis-py's socket buffer turns a socket that failed under it (OSError, e.g. EBADF) into
        # "I/O operation on closed file": the store's I/O failed, not the input.
        if isinstance(exc.__context__, OSError):
            raise ServiceUnavailable("The cart store is unavailable; try again shortly.") from exc
        raise


def needs_redis(function: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with available():
            return function(*args, **kwargs)

    return wrapper


def transact(function: Callable[[Any], T], *, attempts: int = 200) -> T:
    """Optimistic transaction: `function(pipe)` WATCHes the keys it reads, reads them, calls
    `pipe.multi()` and queues its writes; EXEC fails if a watched key changed meanwhile, and the
    whole function runs again on fresh data. No update is ever lost and nothing is half-written."""
    import random
    import time

    with client().pipeline() as pipe:
        for attempt in range(attempts):
            try:
                result = function(pipe)
                if pipe.explicit_transaction:
                    pipe.execute()
                else:
                    pipe.reset()  # the function decided there was nothing to write
                return result
            except redis.WatchError:
                pipe.reset()
                if attempt > 3:
                    time.sleep(random.uniform(0, 0.001 * min(attempt, 20)))  # noqa: S311 - jitter only
    raise ServiceUnavailable("The cart is too busy right now; try again.")
