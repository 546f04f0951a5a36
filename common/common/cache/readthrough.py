"""Read-through caching: `cached` for one value, `cached_many` for a batch.

Stampede protection (one cold key, many concurrent readers -> one computation) uses a short
Redis lock: the first reader that misses takes `<key>:lock` (SET NX PX) and computes; the others
poll for the value with a growing back-off and take over if the lock holder dies. A lock fits
here better than probabilistic early refresh: with versioned namespaces every write turns hot
keys into *cold* keys (new versions), and early refresh only helps keys that are about to expire.

Every value is stored with a TTL (with 10% jitter so keys written together do not all expire
together). Values are pickled: they come from this service's own code, never from clients.
"""

from __future__ import annotations

import logging
import pickle
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from redis import Redis

from common.cache.client import (
    REDIS_ERRORS,
    data_cache_enabled,
    in_transaction,
    redis_client,
    report_failure,
    setting,
)
from common.cache.keys import value_key
from common.cache.namespaces import EVERYTHING, current_versions, flush_pending
from common.cache.stats import counters

T = TypeVar("T")
logger = logging.getLogger("common.cache")
LAYER = "data"

# Set the value and release our lock (only if it is still ours) in one round trip.
_STORE_AND_UNLOCK = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""
# Atomically: the value if someone stored it, else the lock if it is free. (Checking the value and
# taking the lock in two steps lets a reader take the lock just after the value was stored.)
_VALUE_OR_LOCK = """
local value = redis.call('GET', KEYS[1])
if value then return {1, value} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, ''} end
return {0, ''}
"""
_UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def _ttl(ttl: int | None) -> int:
    base = ttl if ttl is not None else int(setting("CACHE_DATA_TTL", 300))
    return max(1, round(base * random.uniform(0.9, 1.1)))  # noqa: S311 - jitter, not security


def _encode(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(raw: bytes) -> tuple[bool, Any]:
    try:
        return True, pickle.loads(raw)  # noqa: S301 - written by this service, see module docstring
    except Exception:  # a value written by another code version: treat as a miss
        logger.warning("Unreadable cache value ignored", exc_info=True)
        return False, None


def _usable_client(kind: str) -> Redis | None:
    """A client when the cache may be read now; None means "go to the database"."""
    if not data_cache_enabled() or in_transaction():
        return None
    client = redis_client()
    if client is None or not flush_pending():
        counters.incr(LAYER, kind, "degraded")
        return None
    return client


def _with_everything(namespaces: Iterable[str]) -> list[str]:
    return [EVERYTHING, *namespaces]


def cached(kind: str, key: str, *, namespaces: Sequence[str], compute: Callable[[], T], ttl: int | None = None) -> T:
    """The value for (kind, key) under the current versions of `namespaces`, computed on a miss."""
    client = _usable_client(kind)
    if client is None:
        return compute()
    try:
        versions = current_versions(client, _with_everything(namespaces))
        full_key = value_key(kind, key, list(versions.values()))
        raw = client.get(full_key)
    except REDIS_ERRORS as exc:
        report_failure(exc, "read")
        counters.incr(LAYER, kind, "error")
        return compute()
    if raw is not None:
        found, value = _decode(raw)
        if found:
            counters.incr(LAYER, kind, "hit")
            counters.maybe_flush(client)
            return value
    return _fill(client, kind, full_key, compute, ttl)


def _fill(client: Redis, kind: str, full_key: str, compute: Callable[[], T], ttl: int | None) -> T:
    lock_key, token = full_key + ":lock", secrets.token_hex(8)
    lock_ms = int(setting("CACHE_LOCK_TTL_MS", 3000))
    try:
        outcome, value = _value_or_lock(client, full_key, lock_key, token, lock_ms)
        if outcome == "wait":
            outcome, value = _wait_for_value(client, full_key, lock_key, token, lock_ms)
        if outcome == "ready":
            counters.incr(LAYER, kind, "coalesced")
            return value
        owner = outcome == "owner"
        if not owner:
            counters.incr(LAYER, kind, "lock_timeout")
    except REDIS_ERRORS as exc:
        report_failure(exc, "lock")
        counters.incr(LAYER, kind, "error")
        return compute()
    try:
        value = compute()
    except BaseException:
        if owner:
            _unlock(client, lock_key, token)  # let a waiter take over at once
        raise
    try:
        client.eval(_STORE_AND_UNLOCK, 2, full_key, lock_key, _encode(value), _ttl(ttl), token)
    except REDIS_ERRORS as exc:
        report_failure(exc, "write")
        counters.incr(LAYER, kind, "error")
        return value
    counters.incr(LAYER, kind, "miss")
    counters.maybe_flush(client)
    return value


def _wait_for_value(client: Redis, full_key: str, lock_key: str, token: str, lock_ms: int) -> tuple[str, Any]:
    """Poll until another reader stored the value ("ready"), its lock vanished and we took it
    ("owner"), or the wait budget ran out ("timeout")."""
    deadline = time.monotonic() + int(setting("CACHE_LOCK_WAIT_MS", lock_ms)) / 1000
    delay = 0.002
    while time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)
        outcome, value = _value_or_lock(client, full_key, lock_key, token, lock_ms)
        if outcome != "wait":
            return outcome, value
    return "timeout", None


def _value_or_lock(client: Redis, full_key: str, lock_key: str, token: str, lock_ms: int) -> tuple[str, Any]:
    """("ready", value), ("owner", None) when we took the lock, or ("wait", None)."""
    status, raw = client.eval(_VALUE_OR_LOCK, 2, full_key, lock_key, token, lock_ms)
    if status == 1:
        found, value = _decode(raw)
        if found:
            return "ready", value
        return "owner", None  # unreadable value: recompute (without the lock; rare)
    return ("owner", None) if status == 2 else ("wait", None)


def _unlock(client: Redis, lock_key: str, token: str) -> None:
    try:
        client.eval(_UNLOCK, 1, lock_key, token)
    except REDIS_ERRORS as exc:
        report_failure(exc, "unlock")


def cached_many(
    kind: str,
    keys: Iterable[str],
    *,
    namespaces: Callable[[str], Sequence[str]],
    compute: Callable[[list[str]], Mapping[str, T]],
    ttl: int | None = None,
) -> dict[str, T | None]:
    """Values for many keys: cached ones in two round trips, the missing ones computed in ONE
    call (`compute` gets the missing keys; a key it leaves out is cached as None, so unknown ids
    cost no query either until a write bumps their namespace).

    No stampede lock: a batch's cold misses cost one query, and a lock per batch would serialize
    unrelated batches.
    """
    keys = list(dict.fromkeys(keys))
    client = _usable_client(kind) if keys else None
    if client is None:
        found = compute(keys) if keys else {}
        return {key: found.get(key) for key in keys}
    try:
        wanted = {key: _with_everything(namespaces(key)) for key in keys}
        versions = current_versions(client, list(dict.fromkeys(ns for nss in wanted.values() for ns in nss)))
        full_keys = {key: value_key(kind, key, [versions[ns] for ns in nss]) for key, nss in wanted.items()}
        raws = client.mget(list(full_keys.values()))
    except REDIS_ERRORS as exc:
        report_failure(exc, "read")
        counters.incr(LAYER, kind, "error", len(keys))
        found = compute(keys)
        return {key: found.get(key) for key in keys}
    result: dict[str, T | None] = {}
    missing = []
    for key, raw in zip(keys, raws, strict=True):
        ok, value = _decode(raw) if raw is not None else (False, None)
        if ok:
            result[key] = value
        else:
            missing.append(key)
    counters.incr(LAYER, kind, "hit", len(keys) - len(missing))
    if missing:
        found = compute(missing)
        try:
            pipe = client.pipeline(transaction=False)
            for key in missing:
                result[key] = found.get(key)
                pipe.set(full_keys[key], _encode(result[key]), ex=_ttl(ttl))
            pipe.execute()
            counters.incr(LAYER, kind, "miss", len(missing))
        except REDIS_ERRORS as exc:
            report_failure(exc, "write")
            counters.incr(LAYER, kind, "error", len(missing))
    counters.maybe_flush(client)
    return {key: result[key] for key in keys}
