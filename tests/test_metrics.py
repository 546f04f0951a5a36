"""Every service of services.json serves Prometheus metrics with its outbox backlog and event counters."""

from __future__ import annotations

import httpx


def test_every_service_serves_prometheus_metrics_with_its_event_backbone(platform):
    for name, base_url in platform.services.items():
        response = httpx.get(f"{base_url}/metrics/", timeout=10)
        assert response.status_code == 200, f"{name}: /metrics/ answered {response.status_code}"
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        body = response.text
        for metric in ("events_outbox_pending", "events_relay_published_total", "events_consumer_lag", "cache_redis_up"):
            assert f"# TYPE {metric} " in body, f"{name}: no {metric} in /metrics/"
