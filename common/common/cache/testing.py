"""A throw-away redis-server for tests that must stop and restart Redis (the shared one is never touched).

In memory by default; with `data_dir` it persists like a Redis used as a database (AOF,
`appendfsync everysec`), so a test can kill it and check what survives a restart.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess

from common.testing.net import free_port
from common.testing.polling import wait_until


class PrivateRedisServer:
    """redis-server on a free loopback port, in memory only; `stop()` and `start()` simulate an outage."""

    def __init__(self, binary: str | None = None, *, data_dir: str | None = None) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise FileNotFoundError("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [found, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if data_dir is None:
            self._command += ["--appendonly", "no"]
        else:
            self._command += ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(data_dir)]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self._process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers_ping, timeout=timeout, what=f"redis-server on {self.port} to answer PING")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync (what a crash or an OOM kill does)."""
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False
