"""Event backbone benchmark: outbox -> relay -> broker -> consumer, with real processes.

    .venv/bin/python bench/events_bench.py [--events 10000] [--rate 250] [--products 200]

It creates a throw-away database (catalog<DATABASE_NAME_SUFFIX>_bench), starts its own Tansu
broker on a free port and runs `manage.py relay_outbox` and `manage.py consume` of the catalog
as separate processes, exactly as in production. Events are real catalog mutations
(`commands.adjust_stock`, one transaction each), spread over `--products` products.

Phase A (capacity): N events are recorded with the relay stopped, then the relay starts and
the backlog drains: events/s through the relay, and through the whole pipeline.
Phase B (latency): N events at a steady `--rate` mutations/s; for each event, the time from
the mutation's commit to the commit of the consumer transaction that applied it. The commit
of the effect is observed exactly: a bench-only trigger NOTIFYs on the processed-events insert,
and PostgreSQL delivers notifications at commit.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from common.testing.polling import TimedOut, wait_until

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "catalog_project"
SUFFIX = os.environ.get("DATABASE_NAME_SUFFIX", "")
DATABASE = f"catalog{SUFFIX}_bench"
ADMIN_URL = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"

EFFECT_TRIGGER = """
CREATE OR REPLACE FUNCTION bench_effect_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('bench_effect', NEW.event_id::text); RETURN NULL; END $$;
CREATE TRIGGER bench_effect_notify AFTER INSERT ON events_processedevent
    FOR EACH ROW EXECUTE FUNCTION bench_effect_notify();
"""


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')


class EffectListener(threading.Thread):
    """Records when each event's consumer transaction committed (NOTIFY arrives at commit)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psycopg

        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.connection = psycopg.connect(DATABASE_URL.replace("postgres://", "postgresql://"), autocommit=True)
        self.connection.execute("LISTEN bench_effect")

    def run(self) -> None:
        while not self.stop.is_set():
            for notification in self.connection.notifies(timeout=0.2):
                self.seen[notification.payload] = time.time()

    def wait_for(self, event_ids: set[str], timeout: float) -> None:
        try:
            wait_until(lambda: event_ids <= self.seen.keys(), timeout=timeout, what="the consumer", interval=0.01)
        except TimedOut:
            raise SystemExit(f"timed out: {len(event_ids - self.seen.keys())} events never reached the consumer")


def start_worker(command: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    log = (log_dir / f"bench-{command}.log").open("wb")
    return subprocess.Popen([sys.executable, "manage.py", command], cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=250.0, help="Phase B mutations per second.")
    parser.add_argument("--products", type=int, default=200)
    options = parser.parse_args()

    from common.events.broker import TansuBroker

    load_before = os.getloadavg()[0]
    recreate_database()
    broker = TansuBroker().start()
    os.environ.update(
        DATABASE_URL=DATABASE_URL,
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
        DJANGO_SETTINGS_MODULE="catalog_project.settings.dev",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from catalog import commands
    from common.events.models import OutboxEvent
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models.signals import post_save

    call_command("migrate", verbosity=0)
    call_command("create_topics", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    with connection.cursor() as cursor:
        cursor.execute(EFFECT_TRIGGER)

    commit_times: dict[str, float] = {}

    def on_outbox_row(sender: object, instance: OutboxEvent, created: bool, **kwargs: object) -> None:
        event_id = str(instance.event_id)
        transaction.on_commit(lambda: commit_times.__setitem__(event_id, time.time()))

    post_save.connect(on_outbox_row, sender=OutboxEvent)

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log_dir = ROOT / ".run"
    log_dir.mkdir(exist_ok=True)
    listener = EffectListener()
    listener.start()
    consumer = start_worker("consume", env, log_dir)
    relay = None
    try:
        # Products (their `created` events are the warm-up: the consumer joins its group meanwhile).
        products = [
            commands.create_product(sku=f"BENCH-{n:05d}", name=f"Bench {n}", price=1, stock_quantity=1_000_000).pk
            for n in range(options.products)
        ]
        relay = start_worker("relay_outbox", env, log_dir)
        listener.wait_for(set(commit_times), timeout=120)
        rng = random.Random(7)

        def mutate() -> None:
            commands.adjust_stock(product_id=rng.choice(products), delta=rng.choice((-1, 1, 2)))

        # --- phase A: backlog drain ----------------------------------------------------------------
        stop_worker(relay)
        before = set(commit_times)
        started = time.perf_counter()
        for _ in range(options.events):
            mutate()
        write_seconds = time.perf_counter() - started
        batch = set(commit_times) - before  # 2 events per adjustment: catalog.product.updated + catalog.stock.adjusted
        events_a = len(batch)
        relay_started = time.time()
        relay = start_worker("relay_outbox", env, log_dir)
        sent_at = None
        while sent_at is None:
            if not OutboxEvent.objects.filter(sent_at__isnull=True).exists():
                sent_at = time.time()
            time.sleep(0.02)
        listener.wait_for(batch, timeout=600)
        effects = [listener.seen[event_id] for event_id in batch]
        relay_seconds = sent_at - relay_started
        drain_seconds = max(effects) - min(effects)

        # --- phase B: steady load, latency ---------------------------------------------------------
        before = set(commit_times)
        interval = 1.0 / options.rate
        started = time.perf_counter()
        for n in range(options.events):
            delay = started + n * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            mutate()
        load_seconds = time.perf_counter() - started
        batch = set(commit_times) - before
        listener.wait_for(batch, timeout=600)
        latencies = [(listener.seen[event_id] - commit_times[event_id]) * 1000 for event_id in batch]
        sent = dict(OutboxEvent.objects.filter(event_id__in=batch).values_list("event_id", "sent_at"))
        relay_latencies = [(sent[uuid.UUID(e)].timestamp() - commit_times[e]) * 1000 for e in batch]
    finally:
        listener.stop.set()
        for process in (relay, consumer):
            if process is not None:
                stop_worker(process)
        broker.stop()

    import kafka

    p95 = percentile(latencies, 0.95)
    print(f"events bench — {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"kafka-python {kafka.__version__}, Tansu (memory), PostgreSQL, relay and consumer as processes")
    print(f"{options.events} adjust_stock mutations per phase over {options.products} products "
          f"({events_a} events in phase A: model state + domain event each); "
          f"machine load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores shared)")
    print()
    print("phase A — backlog drain (recorded with the relay stopped, then the relay starts)")
    print(f"  recording: {options.events / write_seconds:8.0f} mutations/s  (one transaction each, single writer)")
    print(f"  relay:     {events_a / relay_seconds:8.0f} events/s outbox -> broker (acks=all; incl. relay start-up)")
    print(f"  pipeline:  {events_a / drain_seconds:8.0f} events/s outbox -> broker -> consumer effect committed")
    print()
    print(f"phase B — steady load at {options.rate:.0f} mutations/s (achieved {options.events / load_seconds:.0f}/s)")
    print(f"  commit -> effect latency: p50 {percentile(latencies, 0.50):6.1f} ms   p95 {p95:6.1f} ms   "
          f"p99 {percentile(latencies, 0.99):6.1f} ms   max {max(latencies):6.1f} ms   mean {statistics.fmean(latencies):.1f} ms")
    print(f"    of which commit -> relay marked sent (broker acked): p50 {percentile(relay_latencies, 0.50):6.1f} ms   "
          f"p95 {percentile(relay_latencies, 0.95):6.1f} ms")
    verdict = "met" if p95 < 300 else "MISSED"
    print(f"  target p95 < 300 ms: {verdict} (p95 is {p95 / 300:.2f}x the target)")


if __name__ == "__main__":
    main()
