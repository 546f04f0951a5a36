#!/usr/bin/env python3
"""A shop's workload through the gateway, not one query repeated: random pages, filters and search terms
over a 10,000-product catalog, product details, and cart writes (80 % reads / 20 % writes).

    .venv/bin/python bench/workload_bench.py [--duration 30] [--concurrency 10] [--products 10000]

Starts the services under gunicorn (production settings, their own `_bench_workload` databases; the
catalog seeded with --products) and a production gateway (response cache on), then runs --concurrency
virtual shoppers for --duration seconds. Half of them are signed in (the seeded customer's token on
their reads). Each shopper:
- 80 %: a read — a list page (20 or 50 products, a random order; 30 % with a search term from the
  seeded vocabulary, 20 % in a category, 15 % in a price range; sometimes the next page by cursor)
  or a product detail of a random known product;
- 20 %: a cart write (`addToCart` of a random product into the shopper's own anonymous cart, X-Cart-Id),
  when services.json has a `cart` service; otherwise the writes are skipped (and said so) and every
  request is a read. Not done yet: the cart learns products from the catalog's events, and this bench
  starts no broker or workers, so with the cart present every write answers NOT_FOUND (counted as errors).
Prints req/s and p50/p99 per kind, errors, the gateway's response-cache hit ratio and the catalog's
result/data cache hit ratios over the run (from /health and /metrics), with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gateway_bench import Connection  # noqa: E402
from read_path_bench import customer_token, load_average, post, start_platform  # noqa: E402

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
ADD_TO_CART = "mutation Add($id: ID!, $q: Int!) { addToCart(productId: $id, quantity: $q) { id version totalQuantity } }"
CLEAR_CART = "mutation { clearCart { id } }"
ORDERS = ["NAME_ASC", "NAME_DESC", "PRICE_ASC", "PRICE_DESC", "NEWEST", "OLDEST"]
# Words of the seeded product names (catalog/management/commands/seed_catalog.py).
TERMS = ["Classic", "Compact", "Premium", "Eco", "Ultra", "Smart", "Vintage", "Pro", "Bamboo", "Steel", "Carbon",
         "Wool", "Leather", "Oak", "Lamp", "Chair", "Tent", "Phone", "Camera", "Novel", "Boots", "Puzzle", "Pan",
         "Speaker", "Backpack", "Yoga", "Atlas", "Wallet", "Desk", "Lens"]


def has_cart() -> bool:
    return any(s["name"] == "cart" for s in services())


def seed(products: int) -> None:
    """The catalog with `products` products (once per database), then the usual setup."""
    ensure_backing_services()
    suffix = os.environ.get("DATABASE_NAME_SUFFIX", "")
    catalog = next(s for s in services() if s["name"] == "catalog")
    ensure_databases([catalog["database"] + suffix])
    manage(catalog, ["migrate", "--noinput", "-v", "0"])
    manage(catalog, ["seed_catalog", "--products", str(products), "--if-empty"])


def known_products(url: str, count: int = 3000) -> tuple[list[str], list[str]]:
    """(product ids, category ids) to draw from."""
    ids, after = [], None
    while len(ids) < count:
        page = post(url, LIST, {"first": 100, "after": after})["data"]["products"]
        ids += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    categories = post(url, "{ categories { id } }")["data"]["categories"]
    return ids, [c["id"] for c in categories]


class Shopper:
    def __init__(self, url: str, token: str | None, rng: random.Random, products: list[str], categories: list[str],
                 writes: bool) -> None:
        self.url, self.token, self.rng = url, token, rng
        self.products, self.categories, self.writes = products, categories, writes
        self.cart_id: str | None = None
        self.lines = 0
        self.cursor: tuple[dict, str] | None = None  # (variables, endCursor) of the last list page

    def next_request(self) -> tuple[str, dict, dict[str, str]]:
        """(kind, GraphQL body, headers)."""
        rng = self.rng
        reads = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.writes and rng.random() < 0.2:
            headers = {"X-Cart-Id": self.cart_id} if self.cart_id else {}
            if self.lines >= 90:
                self.lines = 0
                return "cart write", {"query": CLEAR_CART}, headers
            self.lines += 1
            return "cart write", {"query": ADD_TO_CART, "variables": {"id": rng.choice(self.products),
                                                                       "q": rng.randint(1, 2)}}, headers
        if rng.random() < 0.25:
            return "detail", {"query": DETAIL, "variables": {"id": rng.choice(self.products)}}, reads
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

    def observe(self, kind: str, body: dict, answer: dict) -> None:
        if kind == "cart write" and answer.get("data"):
            cart = next(iter(answer["data"].values()))
            self.cart_id = self.cart_id or cart["id"]
        elif kind == "list page" and answer.get("data"):
            info = answer["data"]["products"]["pageInfo"]
            variables = {k: v for k, v in body["variables"].items() if k != "after"}
            self.cursor = (variables, info["endCursor"]) if info["hasNextPage"] else None


async def run_shopper(shopper: Shopper, deadline: float, results: dict[str, list[float]], errors: dict[str, list]) -> None:
    connections: dict[tuple, Connection] = {}
    try:
        while time.perf_counter() < deadline:
            kind, body, headers = shopper.next_request()
            key = tuple(sorted(headers.items()))
            connection = connections.get(key)
            if connection is None:
                connection = connections[key] = Connection(shopper.url, b"", headers)
            payload = json.dumps(body).encode()
            head = connection.request.split(b"Content-Length:")[0]
            connection.request = head + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
            started = time.perf_counter()
            status, raw = await connection.send()
            results[kind].append((time.perf_counter() - started) * 1000)
            answer = json.loads(raw) if raw else {}
            if status != 200 or answer.get("errors"):
                errors[kind].append((status, (answer.get("errors") or [{}])[0].get("extensions", {}).get("code")))
            shopper.observe(kind, body, answer)
    finally:
        for connection in connections.values():
            await connection.close()


def read_json(url: str) -> dict:
    """The JSON body, also of a 503 (the gateway's /health is 503 while one subgraph is unhealthy)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def catalog_cache_counts(catalog_base: str) -> dict[tuple[str, str], float]:
    """{(layer, result): count} from the catalog's /metrics (all kinds, all workers)."""
    with urllib.request.urlopen(f"{catalog_base}/metrics/", timeout=10) as response:
        text = response.read().decode()
    counts: dict[tuple[str, str], float] = defaultdict(float)
    for labels, value in re.findall(r"^cache_requests_total\{([^}]*)\} (\S+)$", text, re.M):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        counts[(fields.get("layer", ""), fields.get("result", ""))] += float(value)
    return counts


def ratio(hits: float, misses: float) -> str:
    return f"{hits / (hits + misses):.3f} ({hits:.0f} hits / {misses:.0f} misses)" if hits + misses else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench_workload"
    writes = has_cart()
    supervisor, extra = Supervisor(), Supervisor()
    try:
        seed(args.products)
        platform = start_platform(supervisor, extra, uncached=False)
        url = platform.urls["gateway"]
        catalog_base = platform.urls["catalog"].rsplit("/graphql", 1)[0]
        token = customer_token(url)
        products, categories = known_products(url)
        print(f"load average at the start: {load_average()}")
        print(f"{args.products} products seeded, {len(products)} known ids, {len(categories)} categories; "
              f"{args.concurrency} shoppers (half signed in) for {args.duration:g} s through {url}")
        if not writes:
            print("cart writes: SKIPPED (services.json has no `cart` service yet): every request is a read")
        rc_before = read_json(f"{platform.gateway_base}/health")["responseCache"]
        catalog_before = catalog_cache_counts(catalog_base)
        results: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, list] = defaultdict(list)
        rng = random.Random(args.seed)
        shoppers = [Shopper(url, token if index % 2 else None, random.Random(rng.random()), products, categories, writes)
                    for index in range(args.concurrency)]

        async def everyone() -> float:
            started = time.perf_counter()
            deadline = started + args.duration
            await asyncio.gather(*(run_shopper(s, deadline, results, errors) for s in shoppers))
            return time.perf_counter() - started

        seconds = asyncio.run(everyone())
        rc_after = read_json(f"{platform.gateway_base}/health")["responseCache"]
        catalog_after = catalog_cache_counts(catalog_base)

        total = sum(len(v) for v in results.values())
        print(f"\n{'kind':<12} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for kind in ("list page", "detail", "cart write"):
            latencies = sorted(results.get(kind, []))
            if not latencies:
                continue
            p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
            print(f"{kind:<12} {len(latencies):>9} {len(latencies) / seconds:>8.0f} {statistics.median(latencies):>8.2f} "
                  f"{p99:>8.2f} {len(errors.get(kind, [])):>7}")
        print(f"{'all':<12} {total:>9} {total / seconds:>8.0f}")
        for kind, seen in errors.items():
            print(f"  errors in {kind}: {sorted(set(seen))[:5]}")
        hits = rc_after["hit"] - rc_before["hit"]
        misses = rc_after["miss"] - rc_before["miss"]
        print(f"\ngateway response cache hit ratio over the run: {ratio(hits, misses)}; "
              f"not cacheable: {rc_after['skipped'] - rc_before['skipped']}")
        for layer in ("result", "data"):
            delta = {result: catalog_after[(layer, result)] - catalog_before[(layer, result)]
                     for result in ("hit", "miss", "coalesced")}
            print(f"catalog {layer} cache hit ratio over the run: {ratio(delta['hit'] + delta['coalesced'], delta['miss'])}")
        print(f"load average at the end: {load_average()}")
        return 0
    finally:
        extra.stop()
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
