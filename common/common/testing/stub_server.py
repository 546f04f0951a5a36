"""A real HTTP server on a free loopback port whose answers a test decides: stand-ins for other
services (accounts' JWKS and login, a broken subgraph) and recording proxies in front of real ones."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(data).encode())


Handle = Callable[[Request], Reply]


class StubServer:
    """Serves `handle(request)` for every request on 127.0.0.1:<free port> until `close()`.
    Every request is recorded in `requests` (in arrival order)."""

    def __init__(self, handle: Handle, *, name: str = "stub-server") -> None:
        self.handle = handle
        self.requests: list[Request] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _body(self) -> bytes:
                if "chunked" not in self.headers.get("transfer-encoding", "").lower():
                    length = int(self.headers.get("content-length") or 0)
                    return self.rfile.read(length) if length else b""
                body = b""  # chunked (e.g. Node's OTLP exporter): size line, data, CRLF; a 0 size ends it
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    body += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return body

            def _serve(self) -> None:
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self._body())
                stub.requests.append(request)
                reply = stub.handle(request)
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(reply.body)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
