"""The gateway's health endpoints: liveness, readiness and each subgraph's state."""

from __future__ import annotations

import time

import httpx


def test_health_reports_every_subgraph(platform):
    response = httpx.get(f"{platform.gateway_url}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["subgraphs"]) == set(platform.subgraphs)
    for state in body["subgraphs"].values():
        assert state["status"] == "ok"
        assert state["checks"]["database"]["status"] == "ok"


def test_liveness_and_readiness(platform):
    assert httpx.get(f"{platform.gateway_url}/healthcheck").status_code == 200
    assert httpx.get(f"{platform.gateway_url}/readiness").status_code == 200


def test_health_turns_503_when_a_subgraph_fails_and_recovers(catalog_proxy):
    proxy, url = catalog_proxy

    def status_within(expected: int, seconds: float = 10) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            response = httpx.get(f"{url}/health")
            if response.status_code == expected or time.monotonic() > deadline:
                assert response.status_code == expected, response.text
                return response.json()
            time.sleep(0.2)

    status_within(200)
    proxy.crash = True
    try:
        body = status_within(503)
        assert body["status"] == "degraded"
        assert body["subgraphs"]["catalog"]["status"] == "error"
    finally:
        proxy.crash = False
    status_within(200)
