"""The consumer's apply step for the cart (EVENTS_APPLIER): cart handlers record "applied" in the
cart's Redis with their effect; the user replica's handlers (SQL) keep the SQL bookkeeping."""

from __future__ import annotations

from common.events.redis_processing import RedisApplier

from cart import store


def applier() -> RedisApplier:
    return RedisApplier(store.client, marker_prefix=store.processed_prefix)
