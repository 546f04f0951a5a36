"""A tiny TCP round-robin balancer (asyncio): one address in front of several replicas.

Each new client connection goes to the next backend in turn; a backend that refuses the
connection, or closes it before answering the first bytes, is skipped and the first bytes are
sent to the next one (a replica shutting down gracefully drops its unaccepted connections: those
requests were never processed, so sending them elsewhere is safe, as a load balancer does).
After the first answer bytes, the connection is piped both ways untouched (HTTP keep-alive
connections stay on their replica). `drain(i)` stops sending new connections to backend i, as a
Kubernetes Service does when a pod terminates. For benches only: in production a Kubernetes
Service or a load balancer does this job.

    python bench/balancer.py 8101 127.0.0.1:9001 127.0.0.1:9002
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import threading
from collections import Counter


class RoundRobinBalancer:
    def __init__(self, port: int, backends: list[tuple[str, int]], host: str = "127.0.0.1") -> None:
        self.host, self.port, self.backends = host, port, backends
        self.connections: Counter[int] = Counter()  # backend index -> connections sent there
        self.retried = 0  # first bytes sent again to another backend
        self.drained: set[int] = set()
        self._next = itertools.cycle(range(len(backends)))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()

    def drain(self, index: int) -> None:
        self.drained.add(index)

    async def _open_backend(self, first: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        """A backend that took `first` and answered; returns it with the first answer bytes."""
        for _ in range(2 * len(self.backends)):
            index = next(self._next)
            if index in self.drained:
                continue
            host, port = self.backends[index]
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(first)
                await writer.drain()
                answer = await reader.read(65536)
            except OSError:
                answer = b""
            if not answer:  # refused, reset or closed before answering: the request was not processed
                self.retried += 1
                continue
            self.connections[index] += 1
            return reader, writer, answer
        raise ConnectionRefusedError("no backend answers")

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            first = await client_reader.read(65536)
            if not first:
                client_writer.close()
                return
            backend_reader, backend_writer, answer = await self._open_backend(first)
            client_writer.write(answer)
            await client_writer.drain()
        except OSError:
            client_writer.close()
            return

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is closing
                    writer.close()

        await asyncio.gather(pipe(client_reader, backend_writer), pipe(backend_reader, client_writer))

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, reuse_address=True)
        self._ready.set()
        async with self._server:
            await self._server.serve_forever()

    def start_in_thread(self) -> RoundRobinBalancer:
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self._serve())
            except asyncio.CancelledError:
                pass
            finally:
                self._loop.close()

        threading.Thread(target=run, daemon=True, name=f"balancer-{self.port}").start()
        if not self._ready.wait(10):
            raise RuntimeError(f"balancer on {self.port} did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)


if __name__ == "__main__":
    port, *targets = sys.argv[1:]
    parsed = [(target.rsplit(":", 1)[0], int(target.rsplit(":", 1)[1])) for target in targets]
    asyncio.run(RoundRobinBalancer(int(port), parsed)._serve())
