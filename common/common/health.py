"""`/health/`: is this service able to serve? Checks each dependency it is given."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.http import HttpRequest, JsonResponse

Check = Callable[[], None]
# Extra information shown on the page that never makes the service unhealthy (e.g. the cache:
# when it is down the service still serves from the database).
Info = Callable[[], dict[str, Any]]


def database_check(alias: str = "default") -> Check:
    def check() -> None:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")

    return check


def health_view(
    service: str, checks: dict[str, Check], info: dict[str, Info] | None = None
) -> Callable[[HttpRequest], JsonResponse]:
    def view(request: HttpRequest) -> JsonResponse:
        results: dict[str, dict[str, object]] = {}
        healthy = True
        for name, check in checks.items():
            started = time.perf_counter()
            try:
                check()
                results[name] = {"status": "ok"}
            except Exception as exc:  # a health check reports failures, it never raises
                healthy = False
                results[name] = {"status": "error", "error": exc.__class__.__name__}
            results[name]["ms"] = round((time.perf_counter() - started) * 1000, 2)
        body: dict[str, Any] = {"service": service, "status": "ok" if healthy else "error", "checks": results}
        for name, describe in (info or {}).items():
            try:
                body[name] = describe()
            except Exception as exc:  # informational only
                body[name] = {"status": "error", "error": exc.__class__.__name__}
        return JsonResponse(body, status=200 if healthy else 503)

    return view
