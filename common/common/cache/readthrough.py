"""Read-through caching: `cached` for one value, `cached_many` for a batch.

A hit costs one Redis round trip: a Lua script reads (or creates) the version of every namespace
the value depends on, derives the value's key from them and returns the value.

Stampede protection (one cold key, many concurrent readers -> one computation) uses a short
Redis lock: the first reader that misses takes `<key>:lock` (SET NX PX) and computes; the others
poll with a growing back-off until the value appears, and take the lock over if its holder
dies. A lock fits here better than probabilistic early refresh: with versioned namespaces every
write turns hot keys into *cold* keys (new versions), and early refresh only helps keys that are
about to expire.

Every value is stored with a TTL (with 10% jitter so keys written together do not all expire
together). Values are pickled: they come from this service's own code, never from clients.
"""

from __future__ import annotations

import logging
import pickle
import random
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from redis import Redis

from common.cache import dependencies
from common.cache.client import (
    REDIS_ERRORS,
    LuaScript,
    data_cache_enabled,
    in_transaction,
    redis_client,
    report_failure,
    setting,
)
from common.cache.keys import namespace_key, value_key_prefix
from common.cache.namespaces import EVERYTHING, current_versions, flush_pending, new_token, version_ttl
from common.cache.stats import counters

T = TypeVar("T")
logger = logging.getLogger("common.cache")
LAYER = "data"


# KEYS: namespace version keys. ARGV[1]: value-key prefix, ARGV[2]: version TTL, ARGV[2+i]: a new
# token for KEYS[i] if it has none yet. Returns {value key, value or nil, tokens...}.
_LOOKUP = LuaScript("""
local tokens = {}
for i, key in ipairs(KEYS) do
  local token = redis.call('GET', key)
  if not token then
    token = ARGV[i + 2]
    redis.call('SET', key, token, 'EX', ARGV[2])
  end
  tokens[i] = token
end
local full = ARGV[1] .. table.concat(tokens, '.')
return {full, redis.call('GET', full) or false, unpack(tokens)}
""")
# Atomically: the value if someone stored it, else the lock if it is free. (Checking the value and
# taking the lock in two steps lets a reader take the lock just after the value was stored.)
_VALUE_OR_LOCK = LuaScript("""
local value = redis.call('GET', KEYS[1])
if value then return {1, value} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, ''} end
return {0, ''}
""")
# Set the value and release our lock (only if it is still ours) in one round trip.
_STORE_AND_UNLOCK = LuaScript("""
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
""")
_UNLOCK = LuaScript("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")


def value_ttl(ttl: int | None = None) -> int:
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


class _ProcessMemo:
    """Objects built from cached values, kept in process memory under the value's versioned key:
    a new version means a new key, so a memoized object is never stale."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.items: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Any]:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return True, self.items[key]
        return False, None

    def put(self, key: str, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


memo = _ProcessMemo()


def _namespaces(namespaces: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([EVERYTHING, *namespaces]))


def _compute(compute: Callable[[], Any]) -> Any:
    with dependencies.computing():
        return compute()


def _uncached(namespaces: list[str], compute: Callable[[], Any]) -> Any:
    """Compute without the data cache, still telling a result-cache recording what was read."""
    recording = dependencies.current()
    if recording is not None:
        client = None if in_transaction() else redis_client()
        try:
            if client is None:
                raise ConnectionError("no versions available")
            # Versions first, then the database: a write between the two only makes the answer
            # look older than it is (a later miss), never newer.
            recording.observe(current_versions(client, namespaces))
        except (*REDIS_ERRORS, ConnectionError):
            recording.refuse("namespace versions unavailable")
    return _compute(compute)


def _usable_client(kind: str) -> Redis | None:
    """A client when the data cache may be used now; None means "go to the database"."""
    if not data_cache_enabled() or in_transaction():
        return None
    client = redis_client()
    if client is None or not flush_pending():
        counters.incr(LAYER, kind, "degraded")
        return None
    return client


def cached(
    kind: str,
    key: str,
    *,
    namespaces: Sequence[str],
    compute: Callable[[], Any],
    ttl: int | None = None,
    build: Callable[[Any], T] | None = None,
) -> T:
    """The value for (kind, key) under the current versions of `namespaces`, computed on a miss.

    With `build`, the caller gets `build(value)`, and the built object is kept in process memory
    for as long as the versions do not change (for values that are costly to turn into objects).
    """
    namespaces = _namespaces(namespaces)
    finish = build or (lambda value: value)
    client = _usable_client(kind)
    if client is None:
        return finish(_uncached(namespaces, compute))
    try:
        keys = [namespace_key(ns) for ns in namespaces]
        full_key, raw, *tokens = _LOOKUP(
            client, keys, [value_key_prefix(kind, key), version_ttl(), *(new_token() for _ in keys)]
        )
        full_key = full_key.decode()
    except REDIS_ERRORS as exc:
        report_failure(exc, "read")
        counters.incr(LAYER, kind, "error")
        return finish(_uncached(namespaces, compute))
    recording = dependencies.current()
    if recording is not None:
        recording.observe({ns: token.decode() for ns, token in zip(namespaces, tokens, strict=True)})
    if raw is not None:
        if build is not None:
            found, built = memo.get(full_key)
            if found:
                counters.incr(LAYER, kind, "hit")
                counters.maybe_flush(client)
                return built
        found, value = _decode(raw)
        if found:
            counters.incr(LAYER, kind, "hit")
            counters.maybe_flush(client)
            return _remember(full_key, finish(value)) if build is not None else value
    value = _fill(client, kind, full_key, compute, ttl)
    return _remember(full_key, finish(value)) if build is not None else value


def _remember(full_key: str, built: T) -> T:
    memo.put(full_key, built)
    return built


def _fill(client: Redis, kind: str, full_key: str, compute: Callable[[], Any], ttl: int | None) -> Any:
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
        return _compute(compute)
    try:
        value = _compute(compute)
    except BaseException:
        if owner:
            _unlock(client, lock_key, token)  # let a waiter take over at once
        raise
    try:
        _STORE_AND_UNLOCK(client, [full_key, lock_key], [_encode(value), value_ttl(ttl), token])
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
    status, raw = _VALUE_OR_LOCK(client, [full_key, lock_key], [token, lock_ms])
    if status == 1:
        found, value = _decode(raw)
        if found:
            return "ready", value
        return "owner", None  # unreadable value: recompute (without the lock; rare)
    return ("owner", None) if status == 2 else ("wait", None)


def _unlock(client: Redis, lock_key: str, token: str) -> None:
    try:
        _UNLOCK(client, [lock_key], [token])
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
    if not keys:
        return {}
    wanted = {key: _namespaces(namespaces(key)) for key in keys}
    every_namespace = list(dict.fromkeys(ns for nss in wanted.values() for ns in nss))

    def compute_all(missing: list[str]) -> dict[str, T | None]:
        found = _compute(lambda: compute(missing))
        return {key: found.get(key) for key in missing}

    client = _usable_client(kind)
    if client is None:
        return _uncached(every_namespace, lambda: compute_all(keys))
    try:
        versions = current_versions(client, every_namespace)
        full_keys = {key: value_key_prefix(kind, key) + ".".join(versions[ns] for ns in nss) for key, nss in wanted.items()}
        raws = client.mget(list(full_keys.values()))
    except REDIS_ERRORS as exc:
        report_failure(exc, "read")
        counters.incr(LAYER, kind, "error", len(keys))
        return _uncached(every_namespace, lambda: compute_all(keys))
    recording = dependencies.current()
    if recording is not None:
        recording.observe(versions)
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
        result.update(compute_all(missing))
        try:
            pipe = client.pipeline(transaction=False)
            for key in missing:
                pipe.set(full_keys[key], _encode(result[key]), ex=value_ttl(ttl))
            pipe.execute()
            counters.incr(LAYER, kind, "miss", len(missing))
        except REDIS_ERRORS as exc:
            report_failure(exc, "write")
            counters.incr(LAYER, kind, "error", len(missing))
    counters.maybe_flush(client)
    return {key: result[key] for key in keys}
