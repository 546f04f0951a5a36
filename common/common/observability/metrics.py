"""`/metrics/` of every service in Prometheus text format: the cache counters, the outbox backlog,
the relay's and consumers' counters and the consumer lag, summed over every process of the service.

Workers have no HTTP port, so the relay and the consumers add their counts and offsets to Redis
hashes (about once a second, like the cache counters) and the web process reports them.

Consumer lag is computed from what the consumers saw, not from the broker's end offsets (wrong
on the development broker, Tansu): per partition, the next offset after the last record fetched
minus the last committed offset. It shows records taken but not yet applied; a backlog the
consumers have not fetched yet shows as the outbox backlog of the producing service, its relay
rate and the age of its oldest pending row.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from common.cache.client import REDIS_ERRORS, redis_client
from common.cache.keys import key_prefix
from common.cache.metrics import CONTENT_TYPE, cache_metric_lines
from common.cache.stats import STATS_TTL_SECONDS, Counters
from common.metrics_access import metrics_protected


def events_key() -> str:
    return f"{key_prefix()}:stats:events"


def offsets_key() -> str:
    return f"{key_prefix()}:stats:offsets"


# ("relay", "published", "") / ("consumer", result, group): summed over processes in Redis.
event_counters = Counters(key=events_key)


class OffsetReport:
    """Per consumer process: the highest offset seen and the last committed, per partition."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.lock = threading.Lock()
        self.seen: dict[tuple[str, int], int] = {}
        self.committed: dict[tuple[str, int], int] = {}
        self.dirty = False
        self.last_flush = 0.0

    def saw(self, records: list[Any]) -> None:
        with self.lock:
            for record in records:
                key = (record.topic, record.partition)
                if record.offset + 1 > self.seen.get(key, -1):
                    self.seen[key] = record.offset + 1
                    self.dirty = True

    def committed_offsets(self, offsets: dict[tuple[str, int], int]) -> None:
        with self.lock:
            self.committed.update(offsets)
            self.dirty = True

    def maybe_flush(self, interval: float = 1.0) -> None:
        if not self.dirty or time.monotonic() - self.last_flush < interval:
            return
        client = redis_client()
        if client is None:
            return
        with self.lock:
            fields = {f"{self.group}|{topic}|{partition}|seen": offset for (topic, partition), offset in self.seen.items()}
            fields |= {f"{self.group}|{topic}|{partition}|committed": offset
                       for (topic, partition), offset in self.committed.items()}
            self.dirty, self.last_flush = False, time.monotonic()
        try:
            pipe = client.pipeline(transaction=False)
            pipe.hset(offsets_key(), mapping=fields)
            pipe.expire(offsets_key(), STATS_TTL_SECONDS)
            pipe.execute()
        except REDIS_ERRORS:
            self.dirty = True  # metrics only: try again with the next commit


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def outbox_lines(service: str) -> list[str]:
    if not apps.is_installed("common.events"):
        return []
    from common.events.models import OutboxEvent

    table = OutboxEvent._meta.db_table
    try:
        with connection.cursor() as cursor:  # the partial index outbox_pending keeps this cheap
            cursor.execute(f"SELECT count(*), min(occurred_at) FROM {table} WHERE sent_at IS NULL")  # noqa: S608
            pending, oldest = cursor.fetchone()
    except DatabaseError:
        # The database refusing connections must not turn the scrape into a 500: the other lines
        # (cache, counters in Redis) are what an operator needs most then; the gap itself alerts.
        return ["# database unavailable: no outbox backlog figures"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return [
        "# HELP events_outbox_pending Outbox rows not yet published by the relay (the backlog).",
        "# TYPE events_outbox_pending gauge",
        f'events_outbox_pending{{service="{service}"}} {pending}',
        "# HELP events_outbox_oldest_pending_seconds Age of the oldest unpublished outbox row.",
        "# TYPE events_outbox_oldest_pending_seconds gauge",
        f'events_outbox_oldest_pending_seconds{{service="{service}"}} {age:.3f}',
    ]


def counter_lines(service: str) -> list[str]:
    totals, source = event_counters.totals()
    lines = [
        "# HELP events_relay_published_total Events the relays published (acknowledged by the broker).",
        "# TYPE events_relay_published_total counter",
        f'events_relay_published_total{{service="{service}",source="{source}"}} '
        f'{sum(v for (role, result, _), v in totals.items() if role == "relay" and result == "published")}',
        "# HELP events_consumed_total Records the consumers settled, by group and result "
        "(processed, duplicate, ignored, dead_lettered, retried).",
        "# TYPE events_consumed_total counter",
    ]
    for (role, result, group), value in sorted(totals.items()):
        if role == "consumer":
            lines.append(f'events_consumed_total{{service="{service}",group="{_label(group)}",result="{_label(result)}",'
                         f'source="{source}"}} {value}')
    return lines


def lag_lines(service: str) -> list[str]:
    client = redis_client()
    raw: dict[bytes, bytes] = {}
    if client is not None:
        try:
            raw = client.hgetall(offsets_key())
        except REDIS_ERRORS:
            raw = {}
    offsets: dict[tuple[str, str, str], dict[str, int]] = {}
    for field, value in raw.items():
        group, topic, partition, kind = field.decode().rsplit("|", 3)
        offsets.setdefault((group, topic, partition), {})[kind] = int(value)
    lines = [
        "# HELP events_consumer_lag Records fetched by the group's consumers but not yet committed, per partition.",
        "# TYPE events_consumer_lag gauge",
    ]
    committed_lines = [
        "# HELP events_consumer_committed_offset Last committed offset of the group, per partition.",
        "# TYPE events_consumer_committed_offset gauge",
    ]
    for (group, topic, partition), values in sorted(offsets.items()):
        labels = f'service="{service}",group="{_label(group)}",topic="{_label(topic)}",partition="{partition}"'
        committed = values.get("committed", 0)
        lines.append(f"events_consumer_lag{{{labels}}} {max(0, values.get('seen', committed) - committed)}")
        committed_lines.append(f"events_consumer_committed_offset{{{labels}}} {committed}")
    return lines + committed_lines


def metric_lines() -> list[str]:
    service = _label(key_prefix())
    return [*cache_metric_lines(), *outbox_lines(service), *counter_lines(service), *lag_lines(service)]


@metrics_protected  # every service's /metrics/ follows common.metrics_access, none can forget it
def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("\n".join(metric_lines()) + "\n", content_type=CONTENT_TYPE)
