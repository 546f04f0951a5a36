"""Scale-out run: two replicas of every web process of services.json behind one round-robin address,
the gateway in front of those addresses, two relays and two consumers per service (one consumer
group; orders also its expiry worker), a mixed load through the gateway, and one replica of each
kind killed mid-load.

    .venv/bin/python bench/scaleout_bench.py [--seconds 40] [--concurrency 8] [--partitions 3]

The load: product reads, stock adjustments, registrations, `me`, anonymous cart writes
(addToCart with X-Cart-Id) and checkouts (a customer's addToCart -> placeOrder -> poll `order`
until CONFIRMED/REJECTED -> clearCart) on a few products whose stock covers only part of them.
Web replicas are stopped with SIGTERM (a rolling update / node drain: gunicorn finishes its
requests); one relay and one consumer per service with SIGKILL (a crash: nothing is flushed).
Then it waits for the outboxes (SQL tables, the cart's Redis stream) to drain and the consumers
to settle and checks, from the broker and the stores: every load request succeeded; every event
on the broker (read back from every topic) was applied once by every handler of every consuming
service (SQL ProcessedEvent rows, the cart's Redis markers); and no duplicate effect: stock =
initial + successful adjustments (- confirmed units for the checkout products), never negative,
at most one stock reservation per order and RESERVED exactly for the confirmed ones, every order
settled and one per idempotency key, each anonymous cart line = its successful adds, every cart
version on the broker once, each registered user once in the catalog's replica. Prints the
figures with os.getloadavg(). Own databases (`<name><DATABASE_NAME_SUFFIX>_scaleout`), own
broker, own cart Redis, free ports; everything stops at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from kafka import KafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "common"))
sys.path.insert(0, str(ROOT / "bench"))

from balancer import RoundRobinBalancer  # noqa: E402 - bench/balancer.py
from common.events.broker import TansuBroker  # noqa: E402
from common.testing.net import free_port  # noqa: E402

# What `manage_all.py up` and the end-to-end fixture use: setup, own Redis, supergraph, gateway.
from devtools import bootstrap  # noqa: E402
from devtools.gateway import compose_supergraph, ensure_gateway_dependencies, start_gateway  # noqa: E402
from devtools.manage import manage  # noqa: E402
from devtools.service_redis import start_service_redis  # noqa: E402
from devtools.services import graphql_urls, services  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
MANAGER = ("catalog.manager@example.com", "Catalog-demo-pass-1")
PRODUCTS = "query($first: Int!) { products(first: $first) { edges { node { id stockQuantity } } } }"
ADJUST = "mutation($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta) { product { id } } }"
REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
ME = "{ me { id email } }"
LOGIN_ID = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }"
CREATE_PRODUCT = "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }"
ADD_TO_CART = "mutation($id: ID!) { addToCart(productId: $id, quantity: 1) { id version } }"
CLEAR_CART = "mutation { clearCart { version } }"
PLACE = """mutation($key: String!, $address: AddressInput!, $version: Int) {
  placeOrder(idempotencyKey: $key, shippingAddress: $address, cartVersion: $version) { order { id status } } }"""
ORDER = "query($id: ID!) { order(id: $id) { id status } }"
ADDRESS = {"name": "Scale Shopper", "line1": "1 Replica St", "city": "Berlin", "postalCode": "10115", "country": "DE"}
SETTLED = ("CONFIRMED", "REJECTED")
RETRY = object()  # call(): the answer asks to send the request again
CHECKOUT_PRODUCTS, CHECKOUT_STOCK = 3, 35  # stock for part of the checkouts only: the saga also rejects
HANDLERS = ("import json; from common.events.handlers import handled_event_types, handlers_for; "
            "print(json.dumps({t: [r.name for r in handlers_for(t)] for t in handled_event_types()}))")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]


@dataclass
class Load:
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # correct domain refusals (sold out), not errors
    retried: Counter[str] = field(default_factory=Counter)  # retryable answers, sent again (same idempotency key)
    error_samples: list[str] = field(default_factory=list)
    adjusted: Counter[str] = field(default_factory=Counter)  # product id -> successful +1 adjustments
    registered: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    cart_adds: Counter[tuple[str, str]] = field(default_factory=Counter)  # (anonymous cart, product) -> adds
    orders: dict[str, str] = field(default_factory=dict)  # order id -> status the client last saw
    checkout_seconds: list[float] = field(default_factory=list)  # placeOrder -> settled, as the client saw it


@dataclass
class Customer:
    user_id: str
    token: str


class Cluster:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.processes: list[Process] = []
        self.balancers: list[RoundRobinBalancer] = []
        self.logs = Path(tempfile.mkdtemp(prefix="scaleout-"))
        self.broker = TansuBroker(log_path=self.logs / "broker.log")
        self.supervisor = Supervisor()
        self.services = services()
        self.addresses: dict[str, int] = {}
        self.own_redis: dict[str, str] = {}  # e.g. CART_REDIS_URL of the cart's own redis-server

    def env(self, service: dict[str, Any], **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": f"{service['settings']}.dev",
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "EVENTS_TOPIC_PARTITIONS": str(self.partitions),
            "AUTH_JWKS_URL": f"http://127.0.0.1:{self.addresses['accounts']}/.well-known/jwks.json",
            "ACCOUNTS_TRUSTED_PROXY_COUNT": "1",
            "ACCOUNTS_REGISTRATIONS_PER_IP": "1000000",
            "ACCOUNTS_LOGIN_MAX_FAILURES_PER_IP": "1000000",
            "PYTHONUNBUFFERED": "1",
            # placeOrder waits this long for the cart replica, then answers a retryable CONFLICT: keep it
            # under the gateway's subgraph timeout (10 s), or the client sees a 504 instead.
            "ORDERS_CART_WAIT_SECONDS": "5",
            **self.own_redis,
            **extra,
        }

    def spawn(self, name: str, argv: list[str], cwd: Path, env: dict[str, str]) -> Process:
        log = (self.logs / f"{name}.log").open("ab")
        popen = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        process = Process(name, popen)
        self.processes.append(process)
        return process

    def start(self) -> str:
        self.broker.start()
        for service in self.services:
            self.addresses[service["name"]] = free_port()
        self.own_redis = start_service_redis(self.supervisor, ports={s["name"]: free_port() for s in self.services},
                                             data_root=self.logs)
        for service in self.services:
            project = ROOT / service["project"]
            manage(service, ["create_topics"], env=self.env(service))
            replicas = [free_port(), free_port()]
            for index, port in enumerate(replicas):
                self.spawn(f"{service['name']}-web-{index}",
                           [str(VENV_BIN / "gunicorn"), service["wsgi"], "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                           project, self.env(service, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1",
                                             GUNICORN_THREADS="4"))
            self.balancers.append(RoundRobinBalancer(self.addresses[service["name"]],
                                                     [("127.0.0.1", p) for p in replicas]).start_in_thread())
            for worker in service.get("workers", []):
                argv = worker if isinstance(worker, list) else worker.split()
                # Two relays and two consumers (the point of the run); one of any periodic job.
                for index in range(2 if argv[0] in {"relay_outbox", "consume"} else 1):
                    self.spawn(f"{service['name']}-{argv[0]}-{index}", [str(VENV_BIN / "python"), "manage.py", *argv],
                               project, self.env(service))
        for service in self.services:
            wait(lambda s=service: healthy(self.addresses[s["name"]]), 90, f"{service['name']} behind its balancer")
        urls = {s["name"]: f"http://127.0.0.1:{self.addresses[s['name']]}" for s in self.services}
        supergraph = self.logs / "supergraph.graphql"
        assert compose_supergraph(graphql_urls(urls), out=supergraph, check=False) == 0
        return start_gateway(self.supervisor, port=free_port(), production=True, supergraph=supergraph,
                             name="scaleout-gateway",
                             extra_env={"GATEWAY_RESPONSE_CACHE": "false", "GATEWAY_LOG_LEVEL": "error"})

    def handlers(self, service: dict[str, Any]) -> dict[str, list[str]]:
        """event type -> the names of the handlers a service's consumer runs for it (its registry)."""
        done = subprocess.run([str(VENV_BIN / "python"), "manage.py", "shell", "-c", HANDLERS], cwd=ROOT / service["project"],
                              env=self.env(service), capture_output=True, text=True, timeout=120, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def kill_one_of_each(self) -> list[str]:
        """Replica 0 of everything: workers crash (SIGKILL); web replicas are drained from their
        balancer, then stopped gracefully (SIGTERM), as Kubernetes does with a terminating pod."""
        killed = []
        for balancer in self.balancers:
            balancer.drain(0)
        names = {process.name for process in self.processes}
        for process in self.processes:
            has_twin = process.name.endswith("-0") and f"{process.name[:-2]}-1" in names
            if has_twin and process.popen.poll() is None:
                web = "-web-" in process.name
                os.killpg(process.popen.pid, signal.SIGTERM if web else signal.SIGKILL)
                killed.append(f"{process.name} ({'drained, SIGTERM' if web else 'SIGKILL'})")
        return killed

    def stop(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                os.killpg(process.popen.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
        self.supervisor.stop()
        for balancer in self.balancers:
            balancer.stop()
        self.broker.stop()


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def database_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}{os.environ['DATABASE_NAME_SUFFIX']}"


def query(database: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url(database)) as connection:
        return connection.execute(sql, params).fetchall()


async def run_load(url: str, seconds: float, concurrency: int, load: Load, product_ids: list[str], token: str,
                   customers: list[Customer], cart_products: list[str], checkout_products: list[str],
                   kill_at: float, on_kill: Any) -> None:
    deadline = time.monotonic() + seconds
    kill_time = time.monotonic() + kill_at

    async def call(client: httpx.AsyncClient, kind: str, body: dict[str, Any], bearer: str | None = None,
                   cart_id: str | None = None, refusal: Any = None, retry: Any = None) -> Any:
        """The data, or None after an error (counted); `refusal(error)` tells a correct domain answer
        (e.g. sold out) from an error, `retry(status, payload)` an answer to send again (RETRY):
        those are counted apart."""
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
        if cart_id:
            headers["x-cart-id"] = cart_id
        started = time.perf_counter()
        load.requests[kind] += 1
        try:
            response = await client.post(f"{url}/graphql", json=body, headers=headers)
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            load.errors[kind] += 1
            load.error_samples.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])
            return None
        load.latencies.append(time.perf_counter() - started)
        if retry and retry(response.status_code, payload):
            load.retried[kind] += 1
            return RETRY
        if refusal and response.status_code == 200 and payload.get("errors") and all(map(refusal, payload["errors"])):
            load.refused[kind] += 1
            return None
        if response.status_code != 200 or payload.get("errors"):
            load.errors[kind] += 1
            load.error_samples.append(f"{kind}: {response.status_code} {json.dumps(payload.get('errors'))[:300]}")
            return None
        return payload["data"]

    def sold_out(error: dict[str, Any]) -> bool:
        """The cart refuses a line the catalog has no stock for: the right answer once a product sold out."""
        extensions = error.get("extensions") or {}
        return extensions.get("code") == "CONFLICT" and extensions.get("available") == 0

    def retryable(status: int, payload: dict[str, Any]) -> bool:
        """A gateway timeout, or the orders service's "cart still being updated, try again" CONFLICT."""
        errors = payload.get("errors") or []
        return status == 504 or any((e.get("extensions") or {}).get("retry") is True for e in errors)

    async def checkout(client: httpx.AsyncClient, rng: random.Random, customer: Customer) -> None:
        """addToCart -> placeOrder(cartVersion) -> poll until settled -> clearCart (what a shopper does)."""
        body = {"query": ADD_TO_CART, "variables": {"id": rng.choice(checkout_products)}}
        added = await call(client, "checkout: addToCart", body, customer.token, refusal=sold_out)
        if added is None:
            return
        variables = {"key": uuid.uuid4().hex, "address": ADDRESS, "version": added["addToCart"]["version"]}
        placed_at = time.monotonic()
        for attempt in range(4):  # the same idempotency key each time: a retry never places a second order
            placed = await call(client, "checkout: placeOrder", {"query": PLACE, "variables": variables}, customer.token,
                                retry=retryable if attempt < 3 else None)
            if placed is not RETRY:
                break
            await asyncio.sleep(0.5)
        if placed is None:
            return
        order = placed["placeOrder"]["order"]
        load.orders[order["id"]] = status = order["status"]
        while status not in SETTLED and time.monotonic() < placed_at + 90:
            await asyncio.sleep(0.1)
            seen = await call(client, "checkout: poll order", {"query": ORDER, "variables": {"id": order["id"]}}, customer.token)
            if seen is not None:
                load.orders[order["id"]] = status = seen["order"]["status"]
        load.checkout_seconds.append(time.monotonic() - placed_at)
        # A rejected order leaves its line in the cart: start the next checkout from an empty one.
        await call(client, "checkout: clearCart", {"query": CLEAR_CART}, customer.token)

    async def worker(number: int) -> None:
        rng = random.Random(number)
        customer = customers[number % len(customers)]
        anonymous_cart: str | None = None
        async with httpx.AsyncClient(timeout=30) as client:
            while time.monotonic() < deadline:
                roll = rng.random()
                if roll < 0.40:
                    await call(client, "read products", {"query": PRODUCTS, "variables": {"first": 10}})
                elif roll < 0.55:
                    product = rng.choice(product_ids)
                    data = await call(client, "adjust stock", {"query": ADJUST, "variables": {"id": product, "delta": 1}}, token)
                    if data is not None:
                        load.adjusted[product] += 1
                elif roll < 0.70:
                    product = rng.choice(cart_products)
                    data = await call(client, "anonymous addToCart", {"query": ADD_TO_CART, "variables": {"id": product}},
                                      cart_id=anonymous_cart)
                    if data is not None:
                        anonymous_cart = data["addToCart"]["id"]
                        load.cart_adds[(anonymous_cart, product)] += 1
                        if data["addToCart"]["version"] >= 8:
                            anonymous_cart = None  # the next add starts another cart
                elif roll < 0.85:
                    await checkout(client, rng, customer)
                elif roll < 0.92:
                    email = f"scale-{uuid.uuid4().hex[:12]}@example.com"
                    variables = {"input": {"email": email, "password": f"Scale-{uuid.uuid4().hex}", "fullName": "Scale Test"}}
                    if await call(client, "register", {"query": REGISTER, "variables": variables}) is not None:
                        load.registered.append(email)
                else:
                    await call(client, "me", {"query": ME}, token)

    async def killer() -> None:
        await asyncio.sleep(max(0.0, kill_time - time.monotonic()))
        on_kill()

    await asyncio.gather(killer(), *(worker(n) for n in range(concurrency)))


def cart_redis(cluster: Cluster) -> redis.Redis:
    return redis.Redis.from_url(cluster.own_redis["CART_REDIS_URL"], decode_responses=True)


def outboxes_empty(cluster: Cluster) -> bool:
    for service in cluster.services:
        if query(service["database"], "SELECT count(*) FROM events_outboxevent WHERE sent_at IS NULL")[0][0]:
            return False
    return "CART_REDIS_URL" not in cluster.own_redis or cart_redis(cluster).xlen("cart:outbox") == 0


def broker_events(bootstrap: str) -> tuple[dict[str, dict[str, Any]], int, dict[str, int]]:
    """Every record on every topic, read back from the beginning: {event id: envelope}, the record
    count (a relay that died between the broker's ack and its bookkeeping sends again: counted
    here, deduplicated by the consumers) and the records on dead-letter topics."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=2000)
    try:
        partitions = [TopicPartition(topic, p) for topic in consumer.topics()
                      for p in (consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        events: dict[str, dict[str, Any]] = {}
        records, dead = 0, Counter()
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for tp, batch in consumer.poll(timeout_ms=1000).items():
                for record in batch:
                    if tp.topic.endswith(".dlq"):
                        dead[tp.topic] += 1
                    elif not tp.topic.startswith("__"):
                        records += 1
                        envelope = json.loads(record.value)
                        events[envelope["event_id"]] = envelope
        return events, records, dict(dead)
    finally:
        consumer.close()


def applied_pairs(cluster: Cluster, service: dict[str, Any]) -> list[tuple[str, str]]:
    """(event id, handler) of what a service's consumers applied: SQL rows plus the cart's Redis markers."""
    pairs = [(str(e), h) for e, h in query(service["database"], "SELECT event_id, handler FROM events_processedevent")]
    if service.get("redis"):
        prefix = "cart:processed:"
        for key in cart_redis(cluster).scan_iter(f"{prefix}*", count=1000):
            event_id, handler = key[len(prefix):].split(":", 1)
            pairs.append((event_id, handler))
    return pairs


def settle(cluster: Cluster, load: Load, stock_before: dict[str, int], checkout_stock: dict[str, int],
           timeout: float = 240) -> dict[str, Any]:
    """Wait until the outboxes are empty and every consuming service applied every event on the
    broker with every one of its handlers (consumers record new events on the way: repeat until
    nothing moves); then the checks."""
    consumers = [s for s in cluster.services if any(str(w).startswith("consume") for w in s.get("workers", []))]
    registries = {s["name"]: cluster.handlers(s) for s in consumers}
    started = time.monotonic()
    state: dict[str, Any] = {}

    def settled() -> bool:
        if not outboxes_empty(cluster):
            return False
        events, records, dead = broker_events(cluster.broker.bootstrap_servers)
        expected = {name: {(event_id, handler) for event_id, envelope in events.items()
                           for handler in registry.get(envelope["event_type"], ())}
                    for name, registry in registries.items()}
        applied = {s["name"]: applied_pairs(cluster, s) for s in consumers}
        state.update(events=events, records=records, dead=dead, expected=expected, applied=applied)
        return all(expected[name] <= set(applied[name]) for name in expected) and outboxes_empty(cluster)

    wait(settled, timeout, "the outboxes to drain and every event to be applied")
    settle_seconds = time.monotonic() - started
    events, expected, applied = state["events"], state["expected"], state["applied"]
    per_service: dict[str, dict[str, Any]] = {}
    for service in cluster.services:
        name = service["name"]
        outbox = query(service["database"], "SELECT count(*) FROM events_outboxevent")[0][0]
        row = {"published": sum(1 for e in events.values() if e["producer"] == name)}
        if not service.get("redis"):
            row["in_sql_outbox"] = outbox
        if name in expected:
            pairs = applied[name]
            row.update(expected_applications=len(expected[name]),
                       applied=len(expected[name] & set(pairs)),
                       duplicate_applications=len(pairs) - len(set(pairs)))
        per_service[name] = row

    # Duplicate effects, from the stores.
    stock_after = dict(query("catalog", "SELECT id::text, stock_quantity FROM catalog_product WHERE id::text = ANY(%s)",
                             [list(stock_before) + list(checkout_stock)]))
    wrong_stock = [p for p in stock_before if stock_after[p] != stock_before[p] + load.adjusted[p]]
    orders = query("orders", "SELECT o.id::text, o.status, coalesce(sum(l.quantity), 0) FROM orders_order o "
                   "LEFT JOIN orders_orderline l ON l.order_id = o.id GROUP BY o.id, o.status")
    status = {order_id: s for order_id, s, _ in orders}
    confirmed_units = Counter()
    for product_id, quantity in query("orders", "SELECT l.product_id::text, l.quantity FROM orders_orderline l "
                                                "JOIN orders_order o ON o.id = l.order_id WHERE o.status = 'CONFIRMED'"):
        confirmed_units[product_id] += quantity
    wrong_checkout_stock = [p for p in checkout_stock if stock_after[p] != checkout_stock[p] - confirmed_units[p]]
    reservations = dict(query("catalog", "SELECT order_id::text, status FROM catalog_stockreservation"))
    reservation_rows = query("catalog", "SELECT count(*), count(DISTINCT order_id) FROM catalog_stockreservation")[0]
    keys = query("orders", "SELECT count(*) FROM (SELECT 1 FROM orders_order GROUP BY user_id, idempotency_key "
                           "HAVING count(*) > 1) AS twice")[0][0]
    store = cart_redis(cluster)
    wrong_lines = 0
    for cart_id in {cart for cart, _ in load.cart_adds}:
        held = store.hgetall(f"cart:cart:{cart_id}")
        lines = {item["product_id"]: item["quantity"] for item in json.loads(held.get("items") or "[]")}
        wanted = {p: n for (c, p), n in load.cart_adds.items() if c == cart_id}
        wrong_lines += lines != wanted
    versions: dict[str, list[int]] = {}
    for envelope in events.values():
        if envelope["producer"] == "cart":
            versions.setdefault(envelope["payload"]["cart_id"], []).append(envelope["payload"]["version"])
    replica = query("catalog", "SELECT email, count(*) FROM replica_user WHERE email = ANY(%s) GROUP BY email",
                    [load.registered])
    return {
        "settle_seconds": round(settle_seconds, 1),
        "broker_events": len(events),
        "broker_records": state["records"],
        "dead_letters": state["dead"],
        "events_per_service": per_service,
        "duplicates": {
            "handler_applications_twice": sum(r.get("duplicate_applications", 0) for r in per_service.values()),
            "seeded_products_with_wrong_stock": len(wrong_stock),
            "checkout_products_with_wrong_stock": len(wrong_checkout_stock),
            "negative_stock": sum(1 for v in stock_after.values() if v < 0),
            "orders": len(orders),
            "orders_seen_by_clients": len(load.orders),
            "orders_by_status": dict(Counter(status.values())),
            "orders_not_settled": sum(1 for s in status.values() if s not in SETTLED),
            "orders_per_idempotency_key_over_1": keys,
            "reservation_rows_over_1_per_order": reservation_rows[0] - reservation_rows[1],
            "confirmed_without_reservation": sum(1 for o, s in status.items()
                                                 if s == "CONFIRMED" and reservations.get(o) != "RESERVED"),
            "rejected_with_reservation": sum(1 for o, s in status.items()
                                             if s == "REJECTED" and reservations.get(o) == "RESERVED"),
            "units_confirmed": sum(confirmed_units.values()),
            "anonymous_carts": len({cart for cart, _ in load.cart_adds}),
            "anonymous_carts_with_wrong_lines": wrong_lines,
            "cart_versions_published_twice_or_missing": sum(1 for v in versions.values()
                                                            if sorted(v) != list(range(1, len(v) + 1))),
            "registered_users": len(load.registered),
            "replica_users_found": len(replica),
            "replica_users_duplicated": sum(1 for _, count in replica if count != 1),
        },
    }


def sign_in_customers(client: httpx.Client, gateway: str, count: int) -> list[Customer]:
    customers = []
    for _ in range(count):
        email, password = f"shopper-{uuid.uuid4().hex[:12]}@example.com", f"Pw-{uuid.uuid4().hex}"
        variables = {"input": {"email": email, "password": password, "fullName": "Scale Shopper"}}
        assert not client.post(f"{gateway}/graphql", json={"query": REGISTER, "variables": variables}).json().get("errors")
        session = client.post(f"{gateway}/graphql", json={"query": LOGIN_ID, "variables": {"e": email, "p": password}}
                              ).json()["data"]["login"]
        customers.append(Customer(session["user"]["id"], session["accessToken"]))
    return customers


def create_checkout_products(client: httpx.Client, gateway: str, token: str, customer: Customer) -> dict[str, int]:
    """A few products with little stock, known to the orders and cart read models before the load."""
    created = {}
    for _ in range(CHECKOUT_PRODUCTS):
        tag = uuid.uuid4().hex[:10].upper()
        product = {"sku": f"SCALE-{tag}", "name": f"Scale lamp {tag}", "price": "9.00", "stockQuantity": CHECKOUT_STOCK}
        body = client.post(f"{gateway}/graphql", json={"query": CREATE_PRODUCT, "variables": {"input": product}},
                           headers={"authorization": f"Bearer {token}"}).json()
        created[body["data"]["createProduct"]["product"]["id"]] = CHECKOUT_STOCK
    ids = list(created)
    wait(lambda: query("orders", "SELECT count(*) FROM orders_productreplica WHERE product_id::text = ANY(%s)", [ids])[0][0]
         == len(ids), 90, "the orders service's product replica")
    headers = {"authorization": f"Bearer {customer.token}"}

    def in_cart_read_model() -> bool:
        for product_id in ids:
            body = client.post(f"{gateway}/graphql", json={"query": ADD_TO_CART, "variables": {"id": product_id}},
                               headers=headers).json()
            if body.get("errors"):
                return False
        client.post(f"{gateway}/graphql", json={"query": CLEAR_CART}, headers=headers)
        return True

    wait(in_cart_read_model, 90, "the cart's product read model")
    return created


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_scaleout"
    ensure_gateway_dependencies()
    bootstrap.ensure_backing_services()
    bootstrap.drop_databases(os.environ["DATABASE_NAME_SUFFIX"])  # fresh: the checks count this run only
    bootstrap.setup()
    cluster = Cluster(args.partitions)
    try:
        gateway = cluster.start()
        with httpx.Client(timeout=60) as client:
            token = client.post(f"{gateway}/graphql", json={"query": LOGIN, "variables": {"e": MANAGER[0], "p": MANAGER[1]}}
                                ).json()["data"]["login"]["accessToken"]
            edges = client.post(f"{gateway}/graphql", json={"query": PRODUCTS, "variables": {"first": 20}}).json()
            customers = sign_in_customers(client, gateway, args.concurrency)
            checkout_stock = create_checkout_products(client, gateway, token, customers[0])
        stock_before = {e["node"]["id"]: e["node"]["stockQuantity"] for e in edges["data"]["products"]["edges"]}
        # Anonymous carts take products with room for their lines (the cart refuses more than in stock).
        cart_products = [p for p, stock in stock_before.items() if stock >= 20] or list(stock_before)
        load, killed = Load(), []
        started = time.monotonic()
        asyncio.run(run_load(gateway, args.seconds, args.concurrency, load, list(stock_before), token, customers,
                             cart_products, list(checkout_stock), args.seconds / 2,
                             lambda: killed.extend(cluster.kill_one_of_each())))
        elapsed = time.monotonic() - started
        checks = settle(cluster, load, stock_before, checkout_stock)
        latencies, waits = sorted(load.latencies), sorted(load.checkout_seconds)
        total, errors = sum(load.requests.values()), sum(load.errors.values())
        figures = {
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
            "seconds": round(elapsed, 1),
            "concurrency": args.concurrency,
            "partitions": args.partitions,
            "replicas": f"2 web (round-robin) + 2 relays + 2 consumers for each of {[s['name'] for s in cluster.services]}, "
                        "1 order expiry worker, 1 gateway",
            "killed_mid_load": killed,
            "requests": total,
            "requests_per_second": round(total / elapsed, 1),
            "errors": errors,
            "requests_by_kind": dict(load.requests),
            "errors_by_kind": dict(load.errors),
            "refused_sold_out_by_kind": dict(load.refused),
            "retried_by_kind": dict(load.retried),
            "latency_ms_p50_p95_p99": [round(latencies[int(len(latencies) * q)] * 1000, 1) for q in (0.5, 0.95, 0.99)]
            if latencies else [],
            "checkout_placed_to_settled_s_p50_p95": [round(waits[int(len(waits) * q)], 2) for q in (0.5, 0.95)] if waits else [],
            "connections_per_replica": {f"port {b.port}": dict(b.connections) for b in cluster.balancers},
            "balancer_resent_first_bytes": sum(b.retried for b in cluster.balancers),
            **checks,
        }
        print(json.dumps(figures, indent=2))
        for sample in load.error_samples[:10]:
            print("error:", sample)
        duplicates = checks["duplicates"]
        rows = checks["events_per_service"].values()
        every_applied = all(row.get("applied") == row.get("expected_applications") for row in rows)
        sql_sent = all(row.get("in_sql_outbox", row["published"]) == row["published"] for row in rows)
        ok = (errors == 0 and every_applied and sql_sent and not checks["dead_letters"]
              and duplicates["replica_users_found"] == duplicates["registered_users"]
              and duplicates["orders"] == duplicates["orders_seen_by_clients"]
              and all(v == 0 for k, v in duplicates.items() if k in {
                  "handler_applications_twice", "seeded_products_with_wrong_stock", "checkout_products_with_wrong_stock",
                  "negative_stock", "orders_not_settled", "orders_per_idempotency_key_over_1",
                  "reservation_rows_over_1_per_order", "confirmed_without_reservation", "rejected_with_reservation",
                  "anonymous_carts_with_wrong_lines", "cart_versions_published_twice_or_missing", "replica_users_duplicated"}))
        print("RESULT:", "OK: nothing lost, nothing applied twice" if ok else "FAILED", f"(logs in {cluster.logs})")
        return 0 if ok else 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    raise SystemExit(main())
