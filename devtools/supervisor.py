"""Long-running processes: started together, each logging to .run/<name>.log, watched, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.testing.polling import TimedOut, wait_until

from devtools.paths import LOG_DIR, say


class Supervisor:
    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        LOG_DIR.mkdir(exist_ok=True)

    def start(self, name: str, command: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (LOG_DIR / f"{name}.log").open("ab")
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()  # the child has its own descriptor
        self.processes[name] = process
        return process

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SystemExit(f"[manage_all] {name} exited with {process.returncode}; see .run/{name}.log")

    def wait_ready(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Poll `ready` until it holds; every process must stay alive meanwhile."""

        def alive_and_ready() -> bool:
            self.check_alive()
            return ready()

        try:
            wait_until(alive_and_ready, timeout=timeout, what=what, interval=0.2)
        except TimedOut as error:
            raise SystemExit(f"[manage_all] {error}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def stop_on_signals() -> None:
    """SIGTERM and SIGINT act like Ctrl-C (SIGINT too when started in the background, where it is ignored),
    so the processes we started are always stopped with us."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def supervise_until_interrupted(supervisor: Supervisor) -> None:
    """Block until Ctrl-C/SIGTERM; exits with an error as soon as one of the processes dies."""
    try:
        while True:
            supervisor.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        say("stopping")
