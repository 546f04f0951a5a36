"""Cache hit/miss/error counters.

Counted in process memory (no Redis round trip per read) and added to one Redis hash per
service about once a second, so `/metrics/` shows totals over every worker process. When
Redis is down the deltas wait in memory and the process's own totals are still reported.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from redis import Redis

from common.cache.client import REDIS_ERRORS, redis_client, report_failure, setting
from common.cache.keys import stats_key

# (layer, kind, result): layer "data" is the data cache; result is one of RESULTS.
StatKey = tuple[str, str, str]
RESULTS = ("hit", "miss", "coalesced", "lock_timeout", "error", "degraded")
STATS_TTL_SECONDS = 30 * 24 * 3600


class Counters:
    def __init__(self, key: Callable[[], str] = stats_key) -> None:
        self.key = key  # the Redis hash the totals of every process go to
        self.lock = threading.Lock()
        self.process: Counter[StatKey] = Counter()  # everything this process counted
        self.unflushed: Counter[StatKey] = Counter()  # not yet added to Redis
        self.last_flush = time.monotonic()

    def incr(self, layer: str, kind: str, result: str, amount: int = 1) -> None:
        if amount <= 0:
            return
        key = (layer, kind, result)
        with self.lock:
            self.process[key] += amount
            self.unflushed[key] += amount

    def maybe_flush(self, client: Redis | None = None) -> None:
        interval = float(setting("CACHE_STATS_FLUSH_INTERVAL", 1.0))
        if time.monotonic() - self.last_flush >= interval:
            self.flush(client)

    def flush(self, client: Redis | None = None) -> bool:
        with self.lock:
            pending, self.unflushed = self.unflushed, Counter()
            self.last_flush = time.monotonic()
        if not pending:
            return True
        client = client or redis_client()
        try:
            if client is None:
                raise ConnectionError("cache Redis unavailable")
            pipe = client.pipeline(transaction=False)
            for (layer, kind, result), amount in pending.items():
                pipe.hincrby(self.key(), f"{layer}|{kind}|{result}", amount)
            pipe.expire(self.key(), STATS_TTL_SECONDS)
            pipe.execute()
            return True
        except (*REDIS_ERRORS, ConnectionError) as exc:
            if client is not None:
                report_failure(exc, "stats flush")
            with self.lock:
                self.unflushed.update(pending)  # keep them for the next try
            return False

    def totals(self) -> tuple[dict[StatKey, int], str]:
        """Counts over all processes (source "redis"), or this process's own (source "process")."""
        if self.flush():
            client = redis_client()
            try:
                if client is not None:
                    raw = client.hgetall(self.key())
                    totals: dict[StatKey, int] = {}
                    for field, value in raw.items():
                        layer, kind, result = field.decode().split("|", 2)
                        totals[(layer, kind, result)] = int(value)
                    return totals, "redis"
            except REDIS_ERRORS as exc:
                report_failure(exc, "stats read")
        with self.lock:
            return dict(self.process), "process"

    def reset_process(self) -> None:
        with self.lock:
            self.process.clear()
            self.unflushed.clear()


counters = Counters()
