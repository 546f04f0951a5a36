"""The gateway's OpenTelemetry plugin: traces exported over OTLP when configured, and the trace
context sent on to the subgraphs (whose Django instrumentation continues it)."""

from __future__ import annotations

import uuid

import httpx
from common.testing.polling import wait_until
from common.testing.stub_server import Reply, StubServer


def test_gateway_exports_its_trace_and_continues_it_in_the_subgraph(platform, tmp_path) -> None:
    with StubServer(lambda request: Reply.json({}), name="otlp-collector") as collector:
        proxy, url = platform.proxied_gateway("e2e-gateway-traced", tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=collector.base_url,
                                              OTEL_BSP_SCHEDULE_DELAY="200", GATEWAY_RESPONSE_CACHE="false")
        try:
            trace_id = uuid.uuid4().hex
            response = httpx.post(f"{url}/graphql", json={"query": "{ products(first: 1) { edges { node { id } } } }"},
                                  headers={"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}, timeout=20)
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            forwarded = proxy.requests[-1].get("traceparent", "")
            assert forwarded.split("-")[1:2] == [trace_id], f"the subgraph got traceparent {forwarded!r}"

            def exported() -> bool:  # OTLP/HTTP protobuf carries the id as 16 raw bytes, OTLP/JSON as hex
                return any(trace_id.encode() in r.body or bytes.fromhex(trace_id) in r.body for r in collector.requests)

            wait_until(exported, timeout=30, what="a span of the trace at the collector")
            assert {(r.method, r.path) for r in collector.requests} == {("POST", "/v1/traces")}
        finally:
            proxy.close()
