"""Running test code in threads: races that start at the same instant, and long-running workers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


def _close_database_connections() -> None:
    """A thread that used the ORM opened its own connections: close them (no-op without Django)."""
    try:
        from django.conf import settings
        from django.db import connections
    except ImportError:
        return
    if settings.configured:
        connections.close_all()


def run_concurrently(calls: Sequence[Callable[[], Any]], *, timeout: float = 30) -> list[Any]:
    """Run each call in its own thread, all released at the same instant by a barrier.
    Returns, in order, each call's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # collected for the caller's assertions
            results[index] = error
        finally:
            _close_database_connections()

    threads = [threading.Thread(target=run, args=(i, call), name=f"race-{i}") for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    alive = [thread.name for thread in threads if thread.is_alive()]
    assert not alive, f"still running after {timeout}s: {alive}"
    return results


class Background:
    """Runs `worker.run()` in a daemon thread (a relay, a consumer: anything with `.run()` and a
    `.stop` threading.Event); `stop()` sets the event, joins, and re-raises what the worker raised."""

    def __init__(self, worker: Any, *, name: str | None = None) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name=name or type(worker).__name__)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:  # kept for stop(), which re-raises it in the test's thread
            self.error = exc
        finally:
            _close_database_connections()

    def stop(self, timeout: float = 20) -> None:
        self.worker.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.thread.name} did not stop within {timeout}s"
        if self.error is not None:
            raise self.error
