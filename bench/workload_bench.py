#!/usr/bin/env python3
"""A shop's workload through the gateway, not one query repeated: random pages, filters and search terms
over a 10,000-product catalog, product details, and cart writes (80 % reads / 20 % writes).

    DATABASE_NAME_SUFFIX=_me .venv/bin/python bench/workload_bench.py [--duration 60] [--concurrency 10] [--products 10000]

Starts the whole platform in production mode (bench/_platform.py `start_production_platform`: gunicorn,
production settings, fresh `<service><suffix>_bench_workload` databases, the catalog seeded with
--products, a private Tansu broker on a free port, every worker of services.json, the cart's own Redis,
a production gateway with its response cache on) and waits (deadline, polling) until the cart's product
read model — built from the catalog.product.* events of the seed — holds every seeded product. Then
--concurrency virtual shoppers run for --duration seconds, half of them signed in (a customer each,
registered for the run, its token on every request). Each shopper:
- 80 %: a read — a list page (20 or 50 products, a random order; 30 % with a search term from the
  seeded vocabulary, 20 % in a category, 15 % in a price range; sometimes the next page by cursor)
  or a product detail of a random seeded product;
- 20 %: a write to its own cart (signed in: the user's cart; anonymous: the cart named by X-Cart-Id
  once the first addToCart created it): addToCart, updateCartItem, removeFromCart or clearCart, drawn
  so that each is valid for the cart as the bench's own model of it says (active products in stock,
  1-99 per line, not more than the stock, at most 100 lines).
Prints per kind: requests, req/s, p50/p99, errors; every error code; the hit ratios of every cache
layer over the run (the gateway's response cache from /health, the catalog's result and data caches
and whatever the cart's /metrics count); then compares each shopper's cart (query `cart`) with the
model, and each mutation's answer (version, totalQuantity) on the way. Exit status 1 on any error or
mismatch. The load generator shares the machine's cores: the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _cpu import group_cpu  # noqa: E402
from _platform import SyncGateway, drop_databases, start_production_platform  # noqa: E402
from common.testing.polling import TimedOut, wait_until  # noqa: E402
from gateway_bench import Connection  # noqa: E402
from read_path_bench import load_average, post  # noqa: E402

from devtools.bootstrap import ensure_backing_services, ensure_databases  # noqa: E402
from devtools.manage import manage  # noqa: E402
from devtools.services import services  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

LIST = """query List($first: Int, $after: String, $order: ProductOrderBy, $filter: ProductFilterInput) {
  products(first: $first, after: $after, orderBy: $order, filter: $filter) {
    edges { node { id sku name price { amount currency } inStock category { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
DETAIL = """query Product($id: ID!) {
  product(id: $id) { id sku name description price { amount currency } stockQuantity inStock category { name } }
}"""
CART_FIELDS = "id version totalQuantity"
WRITES = {
    "addToCart": f"mutation($id: ID!, $q: Int!) {{ addToCart(productId: $id, quantity: $q) {{ {CART_FIELDS} }} }}",
    "updateCartItem": f"mutation($id: ID!, $q: Int!) {{ updateCartItem(productId: $id, quantity: $q) {{ {CART_FIELDS} }} }}",
    "removeFromCart": f"mutation($id: ID!) {{ removeFromCart(productId: $id) {{ {CART_FIELDS} }} }}",
    "clearCart": f"mutation {{ clearCart {{ {CART_FIELDS} }} }}",
}
CART = "query { cart { id version totalQuantity items { quantity product { id } } } }"
REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }"
LOGIN = "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken } }"
ORDERS = ["NAME_ASC", "NAME_DESC", "PRICE_ASC", "PRICE_DESC", "NEWEST", "OLDEST"]
# Words of the seeded product names (catalog/management/commands/seed_catalog.py).
TERMS = ["Classic", "Compact", "Premium", "Eco", "Ultra", "Smart", "Vintage", "Pro", "Bamboo", "Steel", "Carbon",
         "Wool", "Leather", "Oak", "Lamp", "Chair", "Tent", "Phone", "Camera", "Novel", "Boots", "Puzzle", "Pan",
         "Speaker", "Backpack", "Yoga", "Atlas", "Wallet", "Desk", "Lens"]
KINDS = ["list page", "detail", *WRITES]
MAX_LINE = 99  # CART_MAX_LINE_QUANTITY
MAX_LINES = 100  # CART_MAX_LINES
GATEWAY_NAME = "bench-workload-gateway"
TOKEN_SECONDS = 200  # sign in again before the 5-minute access token expires
IDLE_SECONDS = 2.0  # a keep-alive connection idle longer is opened afresh (the gateway closes idle ones)


def seed(products: int) -> None:
    """Fresh databases, the catalog with `products` products: their catalog.product.created events wait
    in its outbox for this run's (in-memory) broker; `setup` does the rest."""
    ensure_backing_services()
    suffix = os.environ["DATABASE_NAME_SUFFIX"]
    drop_databases(suffix)
    catalog = next(s for s in services() if s["name"] == "catalog")
    ensure_databases([catalog["database"] + suffix])
    manage(catalog, ["migrate", "--noinput", "-v", "0"])
    manage(catalog, ["seed_catalog", "--products", str(products)])


def catalog_products() -> dict[str, tuple[bool, int]]:
    """{product id: (active, stock)} of the seeded catalog, from its database (the cart's rules)."""
    import psycopg

    database = next(s["database"] for s in services() if s["name"] == "catalog") + os.environ["DATABASE_NAME_SUFFIX"]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as connection:
        rows = connection.execute("SELECT id, is_active, stock_quantity FROM catalog_product").fetchall()
    return {str(id_): (active, stock) for id_, active, stock in rows}


def read_model_size(cart_redis_url: str) -> int:
    """How many products the cart's read model holds (keys cart:product:<id> in the cart's Redis)."""
    import redis

    client = redis.Redis.from_url(cart_redis_url)
    try:
        return sum(1 for _ in client.scan_iter(match="cart:product:*", count=1000))
    finally:
        client.close()


def wait_for_read_model(cart_redis_url: str, expected: int, timeout: float) -> float:
    started = time.monotonic()
    try:
        wait_until(lambda: read_model_size(cart_redis_url) >= expected, timeout=timeout, interval=1.0,
                   what=f"the cart's product read model to hold {expected} products")
    except TimedOut:
        raise SystemExit(f"the cart's product read model holds {read_model_size(cart_redis_url)} of {expected} "
                         f"products after {timeout:g} s") from None
    return time.monotonic() - started


@dataclass
class Customer:
    email: str
    password: str
    gateway: SyncGateway
    token: str = ""
    signed_in_at: float = 0.0

    def headers(self) -> dict[str, str]:
        if time.monotonic() - self.signed_in_at > TOKEN_SECONDS:
            self.token = self.gateway.data(LOGIN, {"email": self.email, "password": self.password})["login"]["accessToken"]
            self.signed_in_at = time.monotonic()
        return {"Authorization": f"Bearer {self.token}"}


def new_customer(gateway: SyncGateway) -> Customer:
    email, password = f"shopper-{uuid.uuid4().hex[:12]}@example.com", f"Pw-{uuid.uuid4().hex}"
    gateway.data(REGISTER, {"input": {"email": email, "password": password, "fullName": "Workload Shopper"}})
    customer = Customer(email, password, gateway)
    customer.headers()
    return customer


@dataclass
class CartModel:
    """What the shopper's cart must hold: lines in order, and the version (one per change)."""

    lines: dict[str, int] = field(default_factory=dict)  # insertion order = line order
    version: int = 0
    exists: bool = False

    @property
    def total(self) -> int:
        return sum(self.lines.values())


class Shopper:
    def __init__(self, index: int, url: str, customer: Customer | None, rng: random.Random, readable: list[str],
                 orderable: dict[str, int], categories: list[str]) -> None:
        self.index, self.url, self.customer, self.rng = index, url, customer, rng
        self.readable, self.orderable, self.orderable_ids, self.categories = readable, orderable, list(orderable), categories
        self.cart_id: str | None = None  # anonymous: the X-Cart-Id the first addToCart gave
        self.model = CartModel()
        self.pending: CartModel | None = None  # the model once the write in flight succeeds
        self.cursor: tuple[dict, str] | None = None  # (variables, endCursor) of the last list page

    def identity(self) -> dict[str, str]:
        if self.customer:
            return self.customer.headers()
        return {"X-Cart-Id": self.cart_id} if self.cart_id else {}

    def next_request(self) -> tuple[str, dict, dict[str, str]]:
        """(kind, GraphQL body, headers)."""
        if self.rng.random() < 0.2:
            return self.next_write()
        return self.next_read()

    def next_read(self) -> tuple[str, dict, dict[str, str]]:
        rng = self.rng
        reads = self.customer.headers() if self.customer else {}
        if rng.random() < 0.25:
            return "detail", {"query": DETAIL, "variables": {"id": rng.choice(self.readable)}}, reads
        if self.cursor and rng.random() < 0.3:
            variables, end = self.cursor
            return "list page", {"query": LIST, "variables": {**variables, "after": end}}, reads
        variables: dict = {"first": rng.choice([20, 20, 50]), "order": rng.choice(ORDERS)}
        draw = rng.random()
        if draw < 0.30:
            variables["filter"] = {"search": rng.choice(TERMS)}
        elif draw < 0.50:
            variables["filter"] = {"categoryId": rng.choice(self.categories)}
        elif draw < 0.65:
            low = rng.randint(0, 40) * 10
            variables["filter"] = {"minPrice": str(low), "maxPrice": str(low + rng.choice([25, 50, 100]))}
        return "list page", {"query": LIST, "variables": variables}, reads

    def next_write(self) -> tuple[str, dict, dict[str, str]]:
        """A write that is valid for the cart as modelled; self.pending is the model after it."""
        rng, model = self.rng, self.model
        lines = dict(model.lines)
        draw = rng.random() if model.lines else 0.0
        if draw < 0.45:  # add: a new line (or more of one already there) within stock and the limits
            while True:
                product = rng.choice(self.orderable_ids)
                room = min(MAX_LINE, self.orderable[product]) - lines.get(product, 0)
                if room > 0 and (product in lines or len(lines) < MAX_LINES):
                    break
            quantity = rng.randint(1, min(3, room))
            lines[product] = lines.get(product, 0) + quantity
            kind, variables = "addToCart", {"id": product, "q": quantity}
        elif draw < 0.75:  # set a line to another quantity within its stock
            product = rng.choice(list(lines))
            quantity = rng.randint(1, min(MAX_LINE, self.orderable[product]))
            lines[product] = quantity
            kind, variables = "updateCartItem", {"id": product, "q": quantity}
        elif draw < 0.95:
            product = rng.choice(list(lines))
            del lines[product]
            kind, variables = "removeFromCart", {"id": product}
        else:
            lines = {}
            kind, variables = "clearCart", {}
        changed = lines != model.lines or list(lines) != list(model.lines)
        self.pending = CartModel(lines, model.version + changed, True)
        return kind, {"query": WRITES[kind], "variables": variables}, self.identity()

    def observe(self, kind: str, body: dict, answer: dict, mismatches: list[str]) -> None:
        if kind in WRITES:
            expected, self.pending = self.pending, None
            cart = (answer.get("data") or {}).get(kind)
            if not cart:
                return  # an error (counted): the model stays as it was (an error writes nothing)
            self.cart_id = self.cart_id or (cart["id"] if not self.customer else None)
            self.model = expected
            if (cart["version"], cart["totalQuantity"]) != (expected.version, expected.total):
                mismatches.append(f"shopper {self.index} {kind} {body.get('variables')}: answered version "
                                  f"{cart['version']} total {cart['totalQuantity']}, model {expected.version} "
                                  f"{expected.total}")
                self.model.version = cart["version"]  # one mismatch is reported once, not after every write
        elif kind == "list page" and answer.get("data"):
            info = answer["data"]["products"]["pageInfo"]
            variables = {k: v for k, v in body["variables"].items() if k != "after"}
            self.cursor = (variables, info["endCursor"]) if info["hasNextPage"] else None

    def check(self, gateway: SyncGateway) -> list[str]:
        """The cart as the cart service holds it, against the model."""
        if not self.model.exists:
            return []
        cart = gateway.data(CART, headers=self.identity())["cart"]
        held = [(line["product"]["id"], line["quantity"]) for line in (cart or {}).get("items", [])]
        wanted = list(self.model.lines.items())
        if cart is None or held != wanted or cart["version"] != self.model.version:
            return [f"shopper {self.index} ({'signed in' if self.customer else 'anonymous'}): cart holds "
                    f"{len(held)} lines v{(cart or {}).get('version')} {held[:3]}…, model {len(wanted)} lines "
                    f"v{self.model.version} {wanted[:3]}…"]
        return []


async def run_shopper(shopper: Shopper, deadline: float, results: dict[str, list[float]], errors: Counter,
                      mismatches: list[str]) -> None:
    connections: dict[tuple, Connection] = {}
    last_used: dict[tuple, float] = {}
    try:
        while time.perf_counter() < deadline:
            kind, body, headers = shopper.next_request()
            key = tuple(sorted(headers.items()))
            connection = connections.get(key)
            if connection is not None and time.perf_counter() - last_used[key] > IDLE_SECONDS:
                await close_quietly(connection)  # the gateway may be closing it: no write on a dying socket
            if connection is None:
                connection = connections[key] = Connection(shopper.url, b"", headers)
            payload = json.dumps(body).encode()
            head = connection.request.split(b"Content-Length:")[0]
            connection.request = head + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
            started = time.perf_counter()
            try:
                status, raw = await connection.send()
            except (OSError, asyncio.IncompleteReadError):
                await close_quietly(connection)
                status, raw = 599, b""  # counted as an error below, never retried (a write may have landed)
            last_used[key] = time.perf_counter()
            results[kind].append((last_used[key] - started) * 1000)
            try:
                answer = json.loads(raw) if raw else {}
            except ValueError:
                answer = {}
            if status != 200 or answer.get("errors") or not answer.get("data"):
                codes = [(e.get("extensions") or {}).get("code", "NO_CODE") for e in answer.get("errors") or []]
                errors[(kind, status, ",".join(codes) or "NO_DATA")] += 1
            shopper.observe(kind, body, answer, mismatches)
    finally:
        for connection in connections.values():
            await close_quietly(connection)


async def close_quietly(connection: Connection) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):  # the peer reset it first
        await connection.close()
    connection.reader = connection.writer = None


def read_json(url: str) -> dict:
    """The JSON body, also of a 503 (the gateway's /health is 503 while one subgraph is unhealthy)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def cache_counts(base: str, token: str) -> dict[tuple[str, str], float]:
    """{(layer, result): count} from a service's /metrics (all kinds, all workers)."""
    request = urllib.request.Request(f"{base}/metrics/", headers={"X-Metrics-Token": token})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    counts: dict[tuple[str, str], float] = defaultdict(float)
    for labels, value in re.findall(r"^cache_requests_total\{([^}]*)\} (\S+)$", text, re.M):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        counts[(fields.get("layer", ""), fields.get("result", ""))] += float(value)
    return counts


def ratio(hits: float, misses: float) -> str:
    return f"{hits / (hits + misses):.3f} ({hits:.0f} hits / {misses:.0f} misses)" if hits + misses else "n/a"


def cpu_seconds(supervisor: Supervisor, broker_pid: int | None) -> dict[str, float]:
    """{process group: user+system CPU seconds} of every process the bench started, with children (the
    gunicorn workers): per request it moves less with the machine's load than latency does."""
    service_names = {s["name"] for s in services()}
    roots = {name: process.pid for name, process in supervisor.processes.items()}
    if broker_pid:
        roots["broker"] = broker_pid
    groups: list[tuple[str, int]] = []
    for name, root in roots.items():
        if name in service_names or name.endswith("-redis") or name == "broker":
            group = "shared-redis" if name == f"{GATEWAY_NAME}-redis" else name  # caches, response cache, counters
        elif name == GATEWAY_NAME:
            group = "gateway"
        else:
            group = name  # a worker: <service>-relay_outbox, -consume, orders-expire_pending_orders
        groups.append((group, root))
    return group_cpu(groups)


def committed(bases: dict[str, str], token: str, topic: str) -> dict[str, int]:
    """{consumer group: committed offsets summed over the partitions of `topic`} from every service's
    /metrics (events_consumer_committed_offset, which the consumers keep in the platform's Redis)."""
    sums: dict[str, int] = defaultdict(int)
    for base in bases.values():
        request = urllib.request.Request(f"{base}/metrics/", headers={"X-Metrics-Token": token})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        for labels, value in re.findall(r"^events_consumer_committed_offset\{([^}]*)\} (\S+)$", text, re.M):
            fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            if fields.get("topic") == topic:
                sums[fields["group"]] += int(float(value))
    return sums


def wait_for_consumers(bases: dict[str, str], token: str, groups: set[str], topic: str, timeout: float) -> float:
    """Seconds until every consumer group of `topic` has committed as far as the furthest one (the cart's
    read model is complete by then): the orders and catalog consumers work through the same 10,000 seed
    events, and a run measured before they are done would count that work as the workload's."""
    started = time.monotonic()

    def caught_up() -> bool:
        sums = committed(bases, token, topic)
        return groups <= set(sums) and len(set(sums.values())) == 1

    try:
        wait_until(caught_up, timeout=timeout, interval=1.0, what=f"every consumer group of {topic}")
    except TimedOut:
        print(f"the consumers of {topic} had not caught up after {timeout:g} s ({dict(committed(bases, token, topic))}):"
              " measuring anyway", flush=True)
    return time.monotonic() - started


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--read-model-timeout", type=float, default=600.0,
                        help="How long to wait for the cart to learn every seeded product (s).")
    args = parser.parse_args()
    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench_workload"
    if not any(s["name"] == "cart" for s in services()):
        raise SystemExit("services.json has no `cart` service: this bench needs it for its writes")
    from common.events.broker import TansuBroker

    supervisor = Supervisor()
    broker = TansuBroker().start()
    gateway: SyncGateway | None = None
    try:
        started = time.monotonic()
        seed(args.products)
        platform = start_production_platform(supervisor, broker=broker.bootstrap_servers, name=GATEWAY_NAME)
        url = platform.gateway
        bases = {name: platform.services[name] for name in ("catalog", "cart")}
        print(f"platform up in {time.monotonic() - started:.0f} s (seed, migrations, services, workers, gateway)", flush=True)
        catalog = catalog_products()
        waited = wait_for_read_model(platform.env["CART_REDIS_URL"], len(catalog), args.read_model_timeout)
        print(f"the cart's product read model holds all {len(catalog)} products {waited:.0f} s later", flush=True)
        broker_pid = broker._process.pid if broker._process else None
        groups = {s["name"] for s in services() if "consume" in s.get("workers", [])}
        caught_up = wait_for_consumers(platform.services, platform.env["METRICS_TOKEN"], groups, "catalog.product",
                                       args.read_model_timeout)
        print(f"every consumer group ({', '.join(sorted(groups))}) committed as far on catalog.product "
              f"{caught_up:.0f} s later: {dict(committed(platform.services, platform.env['METRICS_TOKEN'], 'catalog.product'))}",
              flush=True)
        readable = [pid for pid, (active, _) in catalog.items() if active]
        orderable = {pid: stock for pid, (active, stock) in catalog.items() if active and stock > 0}
        categories = [c["id"] for c in post(url, "{ categories { id } }")["data"]["categories"]]
        gateway = SyncGateway(url)
        rng = random.Random(args.seed)
        shoppers = [Shopper(index, url, new_customer(gateway) if index % 2 else None, random.Random(rng.random()),
                            readable, orderable, categories) for index in range(args.concurrency)]
        print(f"load average at the start: {load_average()}")
        print(f"{len(catalog)} products ({len(readable)} active, {len(orderable)} of them in stock), "
              f"{len(categories)} categories; {args.concurrency} shoppers (half signed in, a customer each; "
              f"the others anonymous with X-Cart-Id) for {args.duration:g} s through {url}")
        rc_before = read_json(f"{platform.gateway_base}/health")["responseCache"]
        before = {name: cache_counts(base, platform.env["METRICS_TOKEN"]) for name, base in bases.items()}
        cpu_before = cpu_seconds(supervisor, broker_pid)
        results: dict[str, list[float]] = defaultdict(list)
        errors: Counter = Counter()
        mismatches: list[str] = []

        async def everyone() -> float:
            begun = time.perf_counter()
            deadline = begun + args.duration
            await asyncio.gather(*(run_shopper(s, deadline, results, errors, mismatches) for s in shoppers))
            return time.perf_counter() - begun

        seconds = asyncio.run(everyone())
        rc_after = read_json(f"{platform.gateway_base}/health")["responseCache"]
        cpu_after = cpu_seconds(supervisor, broker_pid)
        after = {name: cache_counts(base, platform.env["METRICS_TOKEN"]) for name, base in bases.items()}
        load_at_end = load_average()

        total = sum(len(v) for v in results.values())
        writes = sum(len(results.get(kind, [])) for kind in WRITES)
        per_kind = Counter()
        for (kind, _, _), count in errors.items():
            per_kind[kind] += count
        print(f"\n{'kind':<15} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for kind in KINDS:
            latencies = sorted(results.get(kind, []))
            if latencies:
                print(f"{kind:<15} {len(latencies):>9} {len(latencies) / seconds:>8.1f} {statistics.median(latencies):>8.2f} "
                      f"{percentile(latencies, 99):>8.2f} {per_kind[kind]:>7}")
        every = sorted(x for v in results.values() for x in v)
        print(f"{'all':<15} {total:>9} {total / seconds:>8.1f} {statistics.median(every):>8.2f} "
              f"{percentile(every, 99):>8.2f} {sum(errors.values()):>7}")
        print(f"cart writes: {writes} of {total} requests ({writes / total:.1%})")
        print(f"errors: {sum(errors.values())}" + "".join(
            f"\n  {kind}: HTTP {status} {codes} x{count}" for (kind, status, codes), count in sorted(errors.items())))
        hits = rc_after["hit"] - rc_before["hit"]
        misses = rc_after["miss"] - rc_before["miss"]
        print(f"\ngateway response cache hit ratio over the run: {ratio(hits, misses)}; "
              f"not cacheable: {rc_after['skipped'] - rc_before['skipped']}")
        for name in bases:
            layers = sorted({layer for layer, _ in after[name]})
            if not layers:
                print(f"{name}: no cache layer counted on its /metrics")
            for layer in layers:
                delta = {result: after[name][(layer, result)] - before[name].get((layer, result), 0)
                         for result in ("hit", "miss", "coalesced")}
                print(f"{name} {layer} cache hit ratio over the run: "
                      f"{ratio(delta['hit'] + delta['coalesced'], delta['miss'])}"
                      + (f" ({delta['coalesced']:.0f} of the hits coalesced)" if delta["coalesced"] else ""))
        cpu = {group: cpu_after[group] - cpu_before.get(group, 0.0) for group in cpu_after}
        print(f"\nCPU per request (user+system, every process the bench started; the load generator excluded): "
              f"{sum(cpu.values()) / total * 1000:.1f} ms — " + ", ".join(
                  f"{group} {seconds / total * 1000:.1f}" for group, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])
                  if seconds > 0))
        print(f"load average at the end: {load_at_end}")

        mismatches += [line for shopper in shoppers for line in shopper.check(gateway)]
        carts = [s for s in shoppers if s.model.exists]
        print(f"\ncarts checked against the bench's model: {len(carts)} "
              f"({sum(len(s.model.lines) for s in carts)} lines, {sum(s.model.total for s in carts)} units); "
              f"mismatches: {len(mismatches)}" + "".join(f"\n  {m}" for m in mismatches))
        return 1 if errors or mismatches else 0
    finally:
        if gateway is not None:
            gateway.close()
        supervisor.stop()
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
