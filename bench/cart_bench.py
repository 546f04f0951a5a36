#!/usr/bin/env python3
"""The cart through the gateway: addToCart and cart at c=1 and c=10, and mutation -> event on Kafka.

    .venv/bin/python bench/cart_bench.py [--scale 1.0] [--concurrency 1 10] [--events 200]

One run starts every service under gunicorn (production settings, `_bench` databases, seeded), the
cart's own Redis (AOF, appendfsync everysec, a throw-away data directory), a broker and every
service's workers (outbox relays, consumers), and a production gateway (response cache and in-flight
de-duplication off: the raw cost of each request).
A catalog manager creates the benchmark product through the gateway; the run waits for its event
to reach the cart's read model. Then:

* `addToCart` (anonymous, no X-Cart-Id: every request creates a cart, writes it and its event) and
  `cart` (X-Cart-Id of a 3-line cart; the gateway fetches the product names from the catalog),
  each at every concurrency: req/s and p50/p95/p99 (load generator of bench/gateway_bench.py);
* mutation -> event on Kafka: `--events` sequential addToCart calls at ~20/s; for each, the time
  from the mutation's response to its `cart.cart.item_added` record being read from the topic (a
  reader without a consumer group, fetch wait 5 ms), p50/p95.

The load generator runs on the same 2 cores as everything else: compare rows, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common.testing.net import free_port as _free_port  # noqa: E402
from gateway_bench import Result, load  # noqa: E402 - the same load generator

import devtools.services as discovery  # noqa: E402 - starts services and gateways the same way `up` does
from devtools.bootstrap import setup  # noqa: E402
from devtools.env import production_env, service_env  # noqa: E402
from devtools.gateway import compose_supergraph, ensure_gateway_dependencies, start_gateway  # noqa: E402
from devtools.manage import manage  # noqa: E402
from devtools.paths import LOG_DIR  # noqa: E402
from devtools.servers import start_services, start_workers  # noqa: E402
from devtools.service_redis import start_service_redis  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

REQUESTS_PER_CONCURRENCY = {1: 300, 10: 1000}
ADD = "mutation Add($p: ID!) { addToCart(productId: $p, quantity: 1) { id version totalQuantity } }"
CART = """query Cart { cart { id version totalQuantity subtotal { amount currency }
  items { quantity unitPrice { amount } available product { id name } } } }"""
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }"


def post(url: str, query: str, variables: dict | None = None, headers: dict[str, str] | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.load(response)


def start(supervisor: Supervisor, broker: Any, data_dir: Path) -> tuple[str, str, str]:
    """Returns (gateway GraphQL URL, broker address, cart Redis URL)."""
    ensure_gateway_dependencies()
    setup(production=True)
    env = {**production_env()}
    env.update(start_service_redis(supervisor, ports={"cart": _free_port()}, data_root=data_dir))
    broker.start()
    env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    for service in discovery.services():
        if service.get("workers"):
            manage(service, ["create_topics"], env=service_env(service, "prod", env))
    ports = {s["name"]: _free_port() for s in discovery.services()}
    # Every service verifies tokens against this run's accounts (as the e2e fixture does).
    env["AUTH_JWKS_URL"] = f"http://127.0.0.1:{ports['accounts']}/.well-known/jwks.json"
    env["ACCOUNTS_TRUSTED_PROXY_COUNT"] = "1"
    base = start_services(supervisor, production=True, ports=ports, extra_env=env)
    start_workers(supervisor, broker=broker.bootstrap_servers, production=True, extra_env=env)
    supergraph = LOG_DIR / "bench-cart-supergraph.graphql"
    compose_supergraph(discovery.graphql_urls(base), out=supergraph)
    gateway = start_gateway(supervisor, port=_free_port(), production=True, supergraph=supergraph,
                                       name="bench-cart-gateway",
                                       # Raw cost: identical in-flight `cart` queries would otherwise share one
                                       # subgraph call (real shoppers send different X-Cart-Id headers).
                                       extra_env={"GATEWAY_RESPONSE_CACHE": "0", "GATEWAY_DEDUPE_INFLIGHT": "0"})
    return gateway + "/graphql", broker.bootstrap_servers, env["CART_REDIS_URL"]


def wait_for_relay(cart_redis_url: str, timeout: float = 300) -> float:
    """Until the cart's outbox stream is empty (the relay caught up); returns the seconds waited."""
    import redis

    client = redis.Redis.from_url(cart_redis_url)
    started = time.monotonic()
    while client.xlen("cart:outbox") and time.monotonic() - started < timeout:
        time.sleep(0.1)
    return time.monotonic() - started


def bench_product(gateway: str) -> str:
    token = post(gateway, LOGIN, {"e": "catalog.manager@example.com", "p": "Catalog-demo-pass-1"})["data"]["login"]
    product_input = {"sku": f"BENCH-{time.time_ns()}", "name": "Bench lamp", "price": "12.50", "stockQuantity": 90}
    answer = post(gateway, CREATE, {"i": product_input}, {"Authorization": f"Bearer {token['accessToken']}"})
    if answer.get("errors"):
        raise SystemExit(f"could not create the benchmark product: {answer['errors']}")
    product_id = answer["data"]["createProduct"]["product"]["id"]
    deadline = time.monotonic() + 120
    while "errors" in post(gateway, ADD, {"p": product_id}):  # NOT_FOUND until the event arrived
        if time.monotonic() > deadline:
            raise SystemExit("the cart never received the benchmark product's event")
        time.sleep(0.2)
    return product_id


def measure(url: str, name: str, body: bytes, concurrency: int, scale: float,
            headers: dict[str, str] | None = None) -> Result:
    count = max(concurrency * 4, int(REQUESTS_PER_CONCURRENCY.get(concurrency, 500) * scale))
    asyncio.run(load(url, body, requests=30, concurrency=min(concurrency, 10), headers=headers))  # warm-up
    latencies, errors, seconds = asyncio.run(load(url, body, requests=count, concurrency=concurrency, headers=headers))
    return Result("gateway", name, concurrency, count, errors, seconds, latencies)


class CartTopicReader(threading.Thread):
    """Records when each cart event (by aggregate id) is first readable on the topic."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(daemon=True)
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      fetch_max_wait_ms=5, request_timeout_ms=10000)
        partitions = None
        while not partitions:
            partitions = self.consumer.partitions_for_topic("cart.cart")
            time.sleep(0.1)
        assigned = [TopicPartition("cart.cart", p) for p in partitions]
        self.consumer.assign(assigned)
        self.consumer.seek_to_beginning(*assigned)
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for records in self.consumer.poll(timeout_ms=50).values():
                now = time.perf_counter()
                for record in records:
                    self.seen.setdefault(record.key.decode(), now)


def event_latency(gateway: str, broker: str, product_id: str, count: int) -> list[float]:
    reader = CartTopicReader(broker)
    reader.start()
    acknowledged: dict[str, float] = {}
    for _ in range(count):
        answer = post(gateway, ADD, {"p": product_id})
        acknowledged[answer["data"]["addToCart"]["id"]] = time.perf_counter()
        time.sleep(0.05)
    deadline = time.monotonic() + 60
    while not set(acknowledged) <= set(reader.seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    reader.stop.set()
    reader.join(5)
    missing = set(acknowledged) - set(reader.seen)
    if missing:
        print(f"  {len(missing)} of {count} events never seen on the topic")
    return sorted((reader.seen[c] - t) * 1000 for c, t in acknowledged.items() if c in reader.seen)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the request counts (default 1.0)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--events", type=int, default=200, help="mutations for the event latency (default 200)")
    args = parser.parse_args()

    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench"
    from common.events.broker import TansuBroker

    supervisor = Supervisor()
    broker = TansuBroker()
    try:
        with tempfile.TemporaryDirectory(prefix="cart-bench-redis-") as data_dir:
            gateway, bootstrap, cart_redis_url = start(supervisor, broker, Path(data_dir))
            product_id = bench_product(gateway)
            post(gateway, ADD, {"p": product_id})
            cart_id = post(gateway, ADD, {"p": product_id})["data"]["addToCart"]["id"]
            for _ in range(2):
                post(gateway, ADD, {"p": product_id}, {"X-Cart-Id": cart_id})
            print(f"load average at the start: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} "
                  f"on {os.cpu_count()} cores")
            print(f"services under gunicorn ({os.environ.get('GUNICORN_WORKERS', os.cpu_count() * 2 + 1)} workers), "
                  f"production gateway at {gateway} (response cache and in-flight dedup off), cart Redis with AOF everysec")
            results = []
            add_body = json.dumps({"query": ADD, "variables": {"p": product_id}}).encode()
            cart_body = json.dumps({"query": CART}).encode()
            for concurrency in args.concurrency:
                results.append(measure(gateway, "addToCart", add_body, concurrency, args.scale))
                results.append(measure(gateway, "cart", cart_body, concurrency, args.scale, {"X-Cart-Id": cart_id}))
                print(f"  measured c={concurrency}", flush=True)
            print(f"\n{'operation':<11} {'c':>3} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
                  f"{'errors':>6}")
            for r in results:
                print(f"{r.operation:<11} {r.concurrency:>3} {r.requests:>8} {r.rps:>8.0f} {r.percentile(50):>8.2f} "
                      f"{r.percentile(95):>8.2f} {r.percentile(99):>8.2f} {r.errors:>6}")
            backlog = wait_for_relay(cart_redis_url)  # measure latency, not the drain of the load phase
            print(f"\nthe relay finished the load phase's backlog {backlog:.1f} s after it")
            latencies = event_latency(gateway, bootstrap, product_id, args.events)
            print(f"\nmutation response -> event readable on Kafka ({len(latencies)} events, ~20 mutations/s): "
                  f"p50 {pct(latencies, 50):.1f} ms, p95 {pct(latencies, 95):.1f} ms, max {latencies[-1]:.1f} ms")
            print(f"\nload average (1/5/15 min) at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} "
                  f"on {os.cpu_count()} cores; other work on the machine skews absolute figures")
            return 1 if any(r.errors for r in results) else 0
    finally:
        supervisor.stop()
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
