"""`/metrics/` of the cart: the shared lines (cache, relay and consumer counters, lag), with the
outbox backlog read from the cart's Redis stream (the SQL outbox of this service is always empty)."""

from __future__ import annotations

from common.cache.client import REDIS_ERRORS
from common.cache.keys import key_prefix
from common.cache.metrics import CONTENT_TYPE, cache_metric_lines
from common.events.redis_outbox import stream_backlog_lines
from common.metrics_access import metrics_protected
from common.observability.metrics import counter_lines, lag_lines
from django.http import HttpRequest, HttpResponse
from redis.exceptions import RedisError

from cart import store


@metrics_protected  # the same access rule as every service (common.metrics_access)
def metrics_view(request: HttpRequest) -> HttpResponse:
    service = key_prefix()
    try:
        backlog = stream_backlog_lines(store.client(), store.outbox_stream(), service)
    except (RedisError, *REDIS_ERRORS):
        backlog = ["# cart Redis unavailable: no outbox backlog figures"]
    lines = [*cache_metric_lines(), *backlog, *counter_lines(service), *lag_lines(service)]
    return HttpResponse("\n".join(lines) + "\n", content_type=CONTENT_TYPE)
