"""Who may read `/metrics/`: counters tell an attacker about traffic, caches and Redis health.

- `METRICS_TOKEN` set: only requests with `X-Metrics-Token: <METRICS_TOKEN>` (Prometheus:
  `http_headers` in the scrape config); anyone else gets a bare 404. Not `Authorization`: every
  service reads that header as a user's bearer token.
- Not set: open in development (DEBUG), a bare 404 in production; serve metrics on a separate
  bind instead, or set the token.
A plain 404 body either way: never Django's debug page.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound


def metrics_allowed(request: HttpRequest) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        presented = request.META.get("HTTP_X_METRICS_TOKEN", "")
        return hmac.compare_digest(presented.encode(), token.encode())
    return bool(settings.DEBUG)


def metrics_protected(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    @wraps(view)
    def guarded(request: HttpRequest) -> HttpResponse:
        if not metrics_allowed(request):
            return HttpResponseNotFound(b"Not found.\n", content_type="text/plain")
        return view(request)

    return guarded
