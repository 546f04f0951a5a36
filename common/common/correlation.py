"""Correlation ids: one id follows a request through every service and every event it causes.

The middleware takes the id from the `X-Correlation-ID` request header (or makes one), keeps it
in a context variable for the duration of the request and echoes it in the response. The outbox
stamps it on every event; the consumer runner restores it while a handler runs, so events caused
by an event carry the same id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

HEADER = "X-Correlation-ID"
# Ids come from clients: accept only short, printable tokens (they end up in logs and events).
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def get_correlation_id() -> str | None:
    return _current.get()


def current_or_new_correlation_id() -> str:
    """The id of the request or event being handled; a fresh one for work started elsewhere (shell, cron)."""
    return _current.get() or new_correlation_id()


def clean_correlation_id(raw: str | None) -> str | None:
    return raw if raw and _VALID_ID.match(raw) else None


@contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[str]:
    value = clean_correlation_id(correlation_id) or new_correlation_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


class CorrelationIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with correlation_scope(request.headers.get(HEADER)) as correlation_id:
            request.correlation_id = correlation_id
            response = self.get_response(request)
        response[HEADER] = correlation_id
        return response
