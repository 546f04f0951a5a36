"""Operating the event backbone against a real broker (Tansu) and PostgreSQL: re-driving a
dead-letter topic, consumers scaling by partitions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from common.events import clients
from common.events.envelope import Envelope
from common.events.handlers import handles
from common.events.models import ProcessedEvent
from common.events.testing import unique_topic
from common.testing.polling import wait_until
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

pytestmark = pytest.mark.usefixtures("transactional_db")

REPLAYED = "ops.replay.happened"
SPREAD = "ops.spread.happened"
FAILING: set[str] = set()  # aggregate ids the replay handler refuses, until the "fix" removes them
EFFECTS: list[str] = []  # event ids the replay handler applied (committed)


@handles(REPLAYED)
def apply_replayed(event: Envelope) -> None:
    if event.aggregate_id in FAILING:
        raise ValueError(f"cannot apply {event.aggregate_id} yet")
    # The effect counts only if the handler's transaction commits (a batch rolled back by another
    # event's failure is applied again, one by one).
    transaction.on_commit(lambda: EFFECTS.append(str(event.event_id)))


@handles(SPREAD)
def apply_spread(event: Envelope) -> None:
    """Its effect is the ProcessedEvent row the consumer writes in the same transaction."""


def event(event_type: str, aggregate_id: str) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), event_type=event_type, schema_version=1, aggregate_id=aggregate_id,
                    occurred_at=timezone.now(), producer="catalog", correlation_id="ops-test", payload={})


def produce(topic: str, envelopes: list[Envelope | bytes]) -> None:
    producer = clients.producer(role="test")
    try:
        for item in envelopes:
            key = item.aggregate_id.encode() if isinstance(item, Envelope) else b"junk"
            producer.send(topic, key=key, value=item.to_json() if isinstance(item, Envelope) else item)
        producer.flush(timeout=10)
    finally:
        producer.close(timeout=2)


def replay(**options: object) -> str:
    out = StringIO()
    call_command("replay_dead_letters", stdout=out, stderr=StringIO(), idle_seconds=2.0, **options)
    return out.getvalue()


def test_replay_dead_letters_applies_each_dead_letter_once_after_the_fix(run_consumer, topic_reader) -> None:
    topic, group = unique_topic(), f"replay-{uuid.uuid4().hex[:8]}"
    first, second, fine = event(REPLAYED, "a-1"), event(REPLAYED, "a-1"), event(REPLAYED, "b-2")
    FAILING.add("a-1")
    produce(topic, [first, b"\xffnot an envelope", second, fine])
    consumer = run_consumer(topics=[topic], group_id=group)
    wait_until(lambda: consumer.stats.dead_lettered == 3, timeout=60, what="three dead letters")
    topic_reader(f"{topic}.dlq").read_until(lambda records: len(records) >= 3, what="the dead letters on the topic")
    assert EFFECTS.count(str(fine.event_id)) == 1 and str(first.event_id) not in EFFECTS

    # Still broken: both a-1 records fail (the second is held back behind the first), nothing applied.
    with pytest.raises(CommandError, match="1 dead letter"):
        replay(topics=[topic], group=group)
    assert str(first.event_id) not in EFFECTS and str(second.event_id) not in EFFECTS

    produce(f"{topic}.dlq", [b"written to the DLQ by hand, not a dead letter"])
    FAILING.discard("a-1")  # the fix is deployed
    assert "2 would apply" in replay(topics=[f"{topic}.dlq"], group=group, dry_run=True)  # its own name works too
    assert str(first.event_id) not in EFFECTS, "a dry run applies nothing"
    summary = replay(topics=[topic], group=group)
    assert "4 dead letters: 2 applied, 0 already applied, 0 failed again" in summary
    assert "2 malformed (not replayable)" in summary
    assert EFFECTS.index(str(first.event_id)) < EFFECTS.index(str(second.event_id)), "order kept per aggregate"

    # A second replay, or another group's replay, has no further effect.
    assert "0 applied, 2 already applied" in replay(topics=[topic], group=group)
    assert "3 of other groups" in replay(topics=[topic], group="someone-else")  # (and the hand-written one)
    assert Counter(EFFECTS)[str(first.event_id)] == 1 and Counter(EFFECTS)[str(second.event_id)] == 1
    assert ProcessedEvent.objects.filter(event_id__in=[first.event_id, second.event_id]).count() == 2


def test_three_partitions_and_two_consumers_in_one_group_both_consume(events_settings, run_consumer) -> None:
    events_settings.EVENTS_TOPIC_PARTITIONS = 3  # configuration, not code
    topic, group = unique_topic(), f"spread-{uuid.uuid4().hex[:8]}"
    one, two = run_consumer(topics=[topic], group_id=group), run_consumer(topics=[topic], group_id=group)
    sent: list[Envelope] = []

    def both_consumed() -> bool:
        # Keep producing (to many keys, hence every partition) until the group has settled on both.
        if not (one.stats.processed and two.stats.processed):
            if len(sent) - (one.stats.processed + two.stats.processed) >= 30:
                return False  # the last batch is still being taken: no need for more
            batch = [event(SPREAD, f"agg-{len(sent) + i}") for i in range(30)]
            produce(topic, batch)
            sent.extend(batch)
            return False
        return True

    wait_until(both_consumed, timeout=90, what="both consumers of the group to process events")
    ids = [e.event_id for e in sent]
    wait_until(lambda: ProcessedEvent.objects.filter(event_id__in=ids).count() == len(ids), timeout=60,
             what="every event applied")
    wait_until(lambda: one.stats.processed + two.stats.processed >= len(ids), timeout=30, what="the counts to settle")
    metadata = clients.consumer(group_id=None, role="test-metadata")
    try:
        assert wait_until(lambda: metadata.partitions_for_topic(topic), what="partitions") == {0, 1, 2}
    finally:
        metadata.close(autocommit=False)
    assert one.stats.processed > 0 and two.stats.processed > 0, (one.stats, two.stats)
    assert ProcessedEvent.objects.filter(event_id__in=ids).count() == len(ids), "each event applied exactly once"
    assert one.stats.processed + two.stats.processed - (one.stats.duplicates + two.stats.duplicates) <= len(ids)
    print(json.dumps({"sent": len(ids), "one": one.stats.processed, "two": two.stats.processed}))


def test_relay_and_consumer_beat_for_their_health_checks(events_settings, run_relay, run_consumer, tmp_path) -> None:
    relay_file, consumer_file, stale = tmp_path / "relay.alive", tmp_path / "consumer.alive", tmp_path / "stale.alive"
    events_settings.EVENTS_HEARTBEAT_FILE = str(relay_file)
    run_relay()
    wait_until(relay_file.exists, what="the relay's heartbeat")
    events_settings.EVENTS_HEARTBEAT_FILE = str(consumer_file)
    run_consumer(topics=[unique_topic()])
    wait_until(consumer_file.exists, what="the consumer's heartbeat")

    def check(path: Path) -> int:  # the containers' health check command
        return subprocess.run([sys.executable, "-m", "common.events.heartbeat", str(path), "60"]).returncode

    assert check(relay_file) == 0 and check(consumer_file) == 0
    stale.touch()
    two_minutes_ago = time.time() - 120
    os.utime(stale, (two_minutes_ago, two_minutes_ago))  # a worker stuck for two minutes
    assert check(stale) == 1
    assert check(tmp_path / "never-written") == 1
