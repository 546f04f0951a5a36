"""Worker liveness for container health checks: the relay and the consumer touch a file each loop.

    python -m common.events.heartbeat /tmp/worker.alive 60   # exit 0 if touched in the last 60 s

Off unless EVENTS_HEARTBEAT_FILE is set (docker-compose.yml and the Kubernetes manifests set it).
A worker stuck in a call (a hung broker or database connection) stops beating and gets restarted.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

INTERVAL_SECONDS = 2.0


class Heartbeat:
    def __init__(self, path: str | None = None) -> None:
        if path is None:
            from common.events.conf import setting

            path = setting("EVENTS_HEARTBEAT_FILE")
        self.path = Path(path) if path else None
        self._last = 0.0

    def beat(self) -> None:
        now = time.monotonic()
        if self.path is None or now - self._last < INTERVAL_SECONDS:
            return
        self._last = now
        try:
            self.path.touch()
        except OSError:  # a read-only or missing directory must never stop the worker
            self.path = None


def is_fresh(path: str, max_age: float) -> bool:
    try:
        return time.time() - os.stat(path).st_mtime <= max_age
    except OSError:
        return False


if __name__ == "__main__":
    file, age = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    sys.exit(0 if is_fresh(file, age) else 1)
