"""Versioned cache namespaces: invalidation without deleting keys.

Every cached value's key contains the current version token of each namespace it depends on
(e.g. `product:<id>`, `products`). A write replaces those tokens (after its transaction
commits), so every process, in every service, computes new keys at its next read and the old
values are never read again; their TTL removes them.

Tokens are random, not counters: a version key that expired and was recreated can never
bring back values stored under an old token. Version keys live much longer than values.

Each bump also
- replaces the `changes` namespace (one key that moves on any change of this service: an
  outside cache, e.g. the gateway's response cache, can put it in its keys), and
- publishes a JSON message on `<prefix>:changes` naming the namespaces and entities that
  changed, for caches that invalidate by entity (the gateway's response cache).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterable, Sequence

from django.db import DEFAULT_DB_ALIAS, transaction
from redis import Redis

from common.cache.client import REDIS_ERRORS, redis_client, report_failure, setting
from common.cache.keys import changes_channel, key_prefix, namespace_key
from common.cache.stats import counters

# Moves on every change of this service; in no value key of the data cache itself.
CHANGES = "changes"
# In every value key: bumping it drops the whole data cache of the service (bulk changes).
EVERYTHING = "all"

Entity = tuple[str, str]  # (GraphQL typename, id)


def version_ttl() -> int:
    data_ttl = int(setting("CACHE_DATA_TTL", 300))
    # Far longer than any value: a value never outlives the version it was stored under.
    return max(int(setting("CACHE_VERSION_TTL", 7 * 24 * 3600)), data_ttl * 10)


def new_token() -> str:
    return secrets.token_hex(8)


def current_versions(client: Redis, namespaces: Sequence[str]) -> dict[str, str]:
    """The version token of each namespace (creating missing ones), in one round trip usually."""
    keys = [namespace_key(ns) for ns in namespaces]
    values = client.mget(keys)
    missing = [key for key, value in zip(keys, values, strict=True) if value is None]
    if missing:
        ttl = version_ttl()
        pipe = client.pipeline(transaction=False)
        for key in missing:
            pipe.set(key, new_token(), nx=True, ex=ttl)  # NX: concurrent creators agree on one token
        pipe.mget(missing)
        created = dict(zip(missing, pipe.execute()[-1], strict=True))
        values = [created.get(key, value) for key, value in zip(keys, values, strict=True)]
    return {ns: value.decode() for ns, value in zip(namespaces, values, strict=True)}


class _PendingBumps:
    """Bumps that failed because Redis was down: retried before this process reads the cache
    again, and until they succeed this process does not read the cache (read-your-writes)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.namespaces: set[str] = set()
        self.entities: set[Entity] = set()

    def add(self, namespaces: Iterable[str], entities: Iterable[Entity]) -> None:
        with self.lock:
            self.namespaces.update(namespaces)
            self.entities.update(entities)

    def take(self) -> tuple[set[str], set[Entity]]:
        with self.lock:
            taken = self.namespaces, self.entities
            self.namespaces, self.entities = set(), set()
            return taken

    def __bool__(self) -> bool:
        return bool(self.namespaces)


pending = _PendingBumps()


def _message(namespaces: Sequence[str], entities: Iterable[Entity]) -> str:
    return json.dumps(
        {
            "service": key_prefix(),
            "namespaces": sorted(namespaces),
            "entities": [{"typename": typename, "id": str(pk)} for typename, pk in sorted(entities)],
        },
        separators=(",", ":"),
    )


def bump(namespaces: Iterable[str], *, entities: Iterable[Entity] = ()) -> bool:
    """Give the namespaces new versions now. False (and queued for retry) when Redis is down."""
    namespaces = {*namespaces, CHANGES}
    entities = set(entities)
    client = redis_client()
    if client is None:
        pending.add(namespaces, entities)
        counters.incr("data", "namespace", "error")
        return False
    ttl = version_ttl()
    try:
        pipe = client.pipeline(transaction=False)
        for ns in sorted(namespaces):
            pipe.set(namespace_key(ns), new_token(), ex=ttl)
        pipe.publish(changes_channel(), _message(sorted(namespaces), entities))
        pipe.execute()
    except REDIS_ERRORS as exc:
        report_failure(exc, "invalidation")
        pending.add(namespaces, entities)
        counters.incr("data", "namespace", "error")
        return False
    counters.incr("data", "namespace", "bump", len(namespaces))
    return True


def flush_pending() -> bool:
    """Apply bumps that failed earlier. True when nothing is left pending."""
    if not pending:
        return True
    namespaces, entities = pending.take()
    return bump(namespaces, entities=entities)


def invalidate_on_commit(
    namespaces: Iterable[str], *, entities: Iterable[Entity] = (), using: str = DEFAULT_DB_ALIAS
) -> None:
    """Bump the namespaces once the current transaction commits (at once outside a transaction).

    Bumping after the commit matters: a reader that gets the new version reads committed rows,
    and a rolled-back write invalidates nothing. The bump runs before the writer's request
    returns, so the writer's next read is fresh.
    """
    namespaces, entities = tuple(namespaces), tuple(entities)
    # robust: whatever goes wrong here is logged; the write has committed and must not turn into a 500.
    transaction.on_commit(lambda: bump(namespaces, entities=entities), using=using, robust=True)
