"""The gateway's OpenTelemetry plugin: traces exported over OTLP when configured, and the trace
context sent on to the subgraphs (whose Django instrumentation continues it)."""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from conftest import RecordingProxy


class Collector:
    """A stand-in OTLP/HTTP collector: records every export request's path and body."""

    def __init__(self) -> None:
        self.exports: list[tuple[str, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                collector.exports.append((self.path, self._body()))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def _body(self) -> bytes:
                if "chunked" not in self.headers.get("transfer-encoding", ""):
                    return self.rfile.read(int(self.headers.get("content-length", 0)))
                body = b""
                while size := int(self.rfile.readline().strip() or b"0", 16):
                    body += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return body

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_gateway_exports_its_trace_and_continues_it_in_the_subgraph(platform, tmp_path) -> None:
    collector, proxy = Collector(), RecordingProxy(platform.subgraphs["catalog"])
    try:
        supergraph = tmp_path / "supergraph.graphql"
        catalog_url = platform.subgraphs["catalog"]
        supergraph.write_text(platform.supergraph.read_text().replace(f'"{catalog_url}"', f'"{proxy.url}"'))
        url = platform.start_gateway("e2e-gateway-traced", production=True, supergraph=supergraph, extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "200",
            "GATEWAY_RESPONSE_CACHE": "false",
        })
        trace_id = uuid.uuid4().hex
        response = httpx.post(f"{url}/graphql", json={"query": "{ products(first: 1) { edges { node { id } } } }"},
                              headers={"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}, timeout=20)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        forwarded = proxy.requests[-1].get("traceparent", "")
        assert forwarded.split("-")[1:2] == [trace_id], f"the subgraph got traceparent {forwarded!r}"
        deadline = time.monotonic() + 30
        while not any(trace_id.encode() in body or bytes.fromhex(trace_id) in body for _, body in collector.exports):
            assert time.monotonic() < deadline, f"no span of the trace exported ({len(collector.exports)} exports)"
            time.sleep(0.1)
        assert {path for path, _ in collector.exports} == {"/v1/traces"}
    finally:
        proxy.close()
        collector.close()
