"""Exponential backoff with jitter whose waits end early when the process is asked to stop."""

from __future__ import annotations

import random
import threading


class Backoff:
    def __init__(self, *, initial: float = 0.2, maximum: float = 10.0, factor: float = 2.0) -> None:
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self.failures)
        self.failures += 1
        # Full jitter on the upper half: instances that failed together do not retry together.
        return delay / 2 + random.random() * delay / 2  # noqa: S311 - jitter, not a secret

    def wait(self, stop: threading.Event) -> bool:
        """Sleep for the next delay; True if asked to stop meanwhile."""
        return stop.wait(self.next_delay())

    def reset(self) -> None:
        self.failures = 0
