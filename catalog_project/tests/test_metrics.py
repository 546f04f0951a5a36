"""`/metrics/`: outbox backlog, relay and consumer counters and consumer lag in Prometheus text
format, summed over processes through Redis; real broker, PostgreSQL and Redis."""

from __future__ import annotations

import re
import uuid

import pytest
from common.events import clients
from common.events.envelope import Envelope
from common.events.handlers import handles
from common.events.outbox import record_event
from common.events.testing import unique_topic
from common.observability.metrics import event_counters
from common.testing.polling import wait_until
from django.db import transaction
from django.utils import timezone

pytestmark = pytest.mark.usefixtures("transactional_db")
COUNTED = "ops.counted.happened"
SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


@handles(COUNTED)
def apply_counted(event: Envelope) -> None:
    """Nothing to do: the consumer counts it."""


@pytest.fixture(autouse=True)
def metrics_token(settings) -> None:
    """/metrics/ needs METRICS_TOKEN outside DEBUG (common.metrics_access)."""
    settings.METRICS_TOKEN = "test-metrics-token"


def scrape(client) -> list[tuple[str, dict[str, str], float]]:
    response = client.get("/metrics/", HTTP_X_METRICS_TOKEN="test-metrics-token")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = []
    for line in response.content.decode().splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not Prometheus text format: {line!r}"
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def value(samples, name: str, **labels: str) -> float | None:
    found = [v for n, ls, v in samples if n == name and all(ls.get(k) == want for k, want in labels.items())]
    return sum(found) if found else None


def test_outbox_backlog_and_relay_counter(client, run_relay) -> None:
    event_counters.reset_process()
    topic = unique_topic("metrics")
    with transaction.atomic():
        for n in range(3):
            record_event(topic=topic, event_type=f"{topic}.happened", aggregate_id=str(n), payload={})
    samples = scrape(client)
    assert value(samples, "events_outbox_pending") == 3
    assert value(samples, "events_outbox_oldest_pending_seconds") >= 0
    assert value(samples, "cache_redis_up") == 1, "the cache metrics are still there"
    run_relay()
    wait_until(lambda: value(scrape(client), "events_outbox_pending") == 0, what="the backlog to drain")
    wait_until(lambda: value(scrape(client), "events_relay_published_total") == 3, what="published counted")


def test_consumer_counts_and_lag_per_partition(client, run_consumer) -> None:
    event_counters.reset_process()
    topic, group = unique_topic("metrics"), f"metrics-{uuid.uuid4().hex[:8]}"
    producer = clients.producer(role="test")
    try:
        for n in range(5):
            envelope = Envelope(event_id=uuid.uuid4(), event_type=COUNTED, schema_version=1, aggregate_id="same-key",
                                occurred_at=timezone.now(), producer="catalog", correlation_id="metrics", payload={})
            producer.send(topic, key=b"same-key", value=envelope.to_json())
        producer.send(topic, key=b"same-key", value=b"not an envelope")
        producer.flush(timeout=10)
    finally:
        producer.close(timeout=2)
    run_consumer(topics=[topic], group_id=group)

    def settled():
        samples = scrape(client)
        committed = value(samples, "events_consumer_committed_offset", group=group, topic=topic)
        return samples if committed == 6 else None

    samples = wait_until(settled, timeout=60, what="the committed offset in the metrics")
    assert value(samples, "events_consumed_total", group=group, result="processed") == 5
    assert value(samples, "events_consumed_total", group=group, result="dead_lettered") == 1
    assert value(samples, "events_consumer_lag", group=group, topic=topic) == 0


def test_a_database_refusing_connections_leaves_the_scrape_answering(client, monkeypatch) -> None:
    """Seen with a full cluster ("too many clients"): /metrics/ was a 500. The Redis-backed lines stay."""
    from common.observability import metrics
    from django.db import OperationalError

    class RefusingConnection:
        def cursor(self):
            raise OperationalError("FATAL:  sorry, too many clients already")

    with monkeypatch.context() as patched:
        patched.setattr(metrics, "connection", RefusingConnection())
        response = client.get("/metrics/", HTTP_X_METRICS_TOKEN="test-metrics-token")
    assert response.status_code == 200
    body = response.content.decode()
    assert "# database unavailable" in body and "events_outbox_pending" not in body.replace("# database", "")
    assert value(scrape(client), "cache_redis_up") == 1
