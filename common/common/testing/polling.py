"""Waiting by polling with a deadline (never fixed sleeps). Standard library only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimedOut(AssertionError, TimeoutError):
    """A wait ran past its deadline: a failed assertion in a test, a TimeoutError elsewhere."""


def wait_until(predicate: Callable[[], T], *, timeout: float = 20.0, what: str = "condition",
               interval: float = 0.02) -> T:
    """Poll `predicate` until it returns something truthy and return that; TimedOut after `timeout` s.

    Exceptions raised by `predicate` propagate at once (e.g. "the process we wait for has exited").
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimedOut(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def eventually(check: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.1) -> T:
    """Call `check` until it stops raising AssertionError and return its result; after `timeout` s the
    last AssertionError is raised (so the failure says what was still wrong)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)
