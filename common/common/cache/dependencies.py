"""Which cached data (namespace versions) a request's answer was built from.

The result cache (common.cache.results) stores a serialized GraphQL answer together with the
versions of every namespace the read side consulted while computing it; the answer is served
again only while all those versions are unchanged. The data cache reports what it reads here.

An answer whose dependencies are not fully known is never cached: when SQL runs outside a
`cached(...)` computation (a resolver reading the database directly), the recording is
marked untracked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


class Recording:
    def __init__(self) -> None:
        self.versions: dict[str, str] = {}
        self.cacheable = True
        self.reason = ""

    def observe(self, versions: Mapping[str, str]) -> None:
        for namespace, token in versions.items():
            if self.versions.setdefault(namespace, token) != token:
                self.refuse("a namespace changed while the answer was computed")

    def refuse(self, reason: str) -> None:
        if self.cacheable:
            self.cacheable, self.reason = False, reason


_recording: ContextVar[Recording | None] = ContextVar("cache_recording", default=None)
_computing: ContextVar[int] = ContextVar("cache_computing", default=0)


def current() -> Recording | None:
    return _recording.get()


@contextmanager
def computing() -> Iterator[None]:
    """SQL inside this block belongs to a tracked computation (a cached value's `compute`)."""
    token = _computing.set(_computing.get() + 1)
    try:
        yield
    finally:
        _computing.reset(token)


@contextmanager
def recording(using: str = DEFAULT_DB_ALIAS) -> Iterator[Recording]:
    """Record the dependencies of everything computed in this block."""
    record = Recording()

    def watch_sql(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if _computing.get() == 0:
            record.refuse("SQL outside a cached read")
        return execute(sql, params, many, context)

    token = _recording.set(record)
    try:
        with connections[using].execute_wrapper(watch_sql):
            yield record
    finally:
        _recording.reset(token)
