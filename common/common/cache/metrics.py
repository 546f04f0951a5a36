"""Cache observability: `/metrics/` in Prometheus text format and a summary for `/health/`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from common.cache.client import REDIS_ERRORS, breaker, data_cache_enabled, redis_client
from common.cache.keys import key_prefix
from common.cache.namespaces import pending
from common.cache.results import result_cache_enabled
from common.cache.stats import counters

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def redis_reachable() -> bool:
    client = redis_client()
    if client is None:
        return False
    try:
        return bool(client.ping())
    except REDIS_ERRORS:
        return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("\n".join(cache_metric_lines()) + "\n", content_type=CONTENT_TYPE)


def cache_metric_lines() -> list[str]:
    """Cache counters of every process of this service (or of this process when Redis is down).

    Counter names follow Prometheus conventions; labels: layer, kind (what was cached), result
    (hit, miss, coalesced, lock_timeout, error, degraded, and for the result layer uncacheable;
    kind "namespace": bump, error).
    """
    totals, source = counters.totals()
    service = _label(key_prefix())
    lines = [
        "# HELP cache_requests_total Cache lookups by layer, kind and result.",
        "# TYPE cache_requests_total counter",
    ]
    for (layer, kind, result), value in sorted(totals.items()):
        lines.append(
            f'cache_requests_total{{service="{service}",layer="{_label(layer)}",kind="{_label(kind)}",'
            f'result="{_label(result)}",source="{source}"}} {value}'
        )
    lines += [
        "# HELP cache_data_enabled Whether the data cache layer is switched on (CACHE_DATA_ENABLED).",
        "# TYPE cache_data_enabled gauge",
        f'cache_data_enabled{{service="{service}"}} {int(data_cache_enabled())}',
        "# HELP cache_result_enabled Whether the result cache layer is switched on (CACHE_RESULT_ENABLED).",
        "# TYPE cache_result_enabled gauge",
        f'cache_result_enabled{{service="{service}"}} {int(result_cache_enabled())}',
        "# HELP cache_redis_up Whether this process reaches the cache's Redis.",
        "# TYPE cache_redis_up gauge",
        f'cache_redis_up{{service="{service}"}} {int(redis_reachable())}',
        "# HELP cache_pending_invalidations Namespace bumps waiting for Redis to come back (this process).",
        "# TYPE cache_pending_invalidations gauge",
        f'cache_pending_invalidations{{service="{service}"}} {len(pending.namespaces)}',
    ]
    return lines


def _layer_summary(totals: dict[tuple[str, str, str], int], layer: str) -> dict[str, Any]:
    def count(results: set[str]) -> int:
        return sum(value for (name, _, result), value in totals.items() if name == layer and result in results)

    hits, misses = count({"hit", "coalesced"}), count({"miss"})
    lookups = hits + misses
    return {
        "hits": hits,
        "misses": misses,
        "errors": count({"error", "degraded"}),
        "hit_ratio": round(hits / lookups, 4) if lookups else None,
    }


def cache_health() -> dict[str, Any]:
    """For `/health/`: informational, a cache outage does not make the service unhealthy."""
    totals, source = counters.totals()
    return {
        "status": "ok" if redis_reachable() else "degraded",
        "data_cache": "on" if data_cache_enabled() else "off",
        "result_cache": "on" if result_cache_enabled() else "off",
        "breaker_open": breaker.is_open(),
        "data": _layer_summary(totals, "data"),
        "result": _layer_summary(totals, "result"),
        "counted_by": source,
    }
