"""Soak (issue 13): a steady mixed workload through the gateway, memory of every process sampled.

    .venv/bin/python bench/soak_bench.py [--minutes 10] [--rate 40] [--sample-seconds 30]
                                         [--gateway-node-options "--max-old-space-size=256"]

The platform comes up on free ports (bench/_platform.py; private Redis and broker, fresh
*_faults databases, production-mode gateway). The workload is open loop at `--rate` requests/s:
anonymous browsing (product pages, details, categories, searches), signed-in `me` reads, and
admin stock writes (each one an event through outbox, relay, broker and consumer).
Printed: requests, errors, p50/p99 per minute and overall, and the RSS of every process at the
start, every `--sample-seconds`, and at the end (gateway first). Stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import threading
import time
from typing import Any

from _platform import ADMIN, CUSTOMER, Load, Platform, run_load


def operations(platform: Platform, product_ids: list[str]) -> list[tuple[str, float, Any]]:
    admin = platform.bearer(ADMIN)
    customer = platform.bearer(CUSTOMER)
    rng = random.Random(11)
    words = ["lamp", "desk", "chair", "oak", "brass", "mug", "sofa", "rug", "x"]

    def page() -> tuple[dict, dict, None]:
        first = rng.choice([5, 10, 20, 50])
        order = rng.choice(["NAME_ASC", "PRICE_ASC", "PRICE_DESC"])
        return ({"query": "query($f: Int, $o: ProductOrderBy) { products(first: $f, orderBy: $o) "
                          "{ totalCount edges { node { id sku name price { amount currency } } } pageInfo { endCursor } } }",
                 "variables": {"f": first, "o": order}}, {}, None)

    def search() -> tuple[dict, dict, None]:
        return ({"query": "query($s: String) { products(first: 10, filter: {search: $s}) { edges { node { id name } } } }",
                 "variables": {"s": rng.choice(words)}}, {}, None)

    def detail() -> tuple[dict, dict, None]:
        return ({"query": "query($id: ID!) { product(id: $id) { id name description stockQuantity category { name } } }",
                 "variables": {"id": rng.choice(product_ids)}}, {}, None)

    def categories() -> tuple[dict, dict, None]:
        return {"query": "{ categories { id name children { id name } } }"}, {}, None

    def me() -> tuple[dict, dict, None]:
        return {"query": "{ me { id email roles } }"}, customer(), None

    def adjust() -> tuple[dict, dict, None]:
        return ({"query": "mutation($id: ID!, $d: Int!) "
                          "{ adjustStock(productId: $id, delta: $d) { product { id stockQuantity } } }",
                 "variables": {"id": rng.choice(product_ids), "d": rng.choice([1, 2, 3])}}, admin(), None)

    return [("page", 4, page), ("search", 2, search), ("detail", 3, detail), ("categories", 1, categories),
            ("me", 2, me), ("adjust", 1, adjust)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=40)
    parser.add_argument("--sample-seconds", type=float, default=30)
    parser.add_argument("--gateway-node-options", default="", help="NODE_OPTIONS for the gateway (e.g. a heap cap)")
    options = parser.parse_args()
    if options.gateway_node_options:
        os.environ["NODE_OPTIONS"] = options.gateway_node_options
    load_before = os.getloadavg()
    with Platform(os.environ.get("DATABASE_NAME_SUFFIX", "") + "_soak") as platform:
        os.environ.pop("NODE_OPTIONS", None)
        product_ids = [str(row[0]) for row in platform.sql("catalog", "SELECT id FROM catalog_product LIMIT 200")]
        ops = operations(platform, product_ids)
        asyncio.run(run_load(platform.gateway + "/graphql", ops, rate=10, seconds=10, load=Load()))  # warm-up
        samples: list[tuple[float, dict[str, float]]] = [(0.0, platform.rss())]
        load = Load()
        stop = threading.Event()
        started = time.time()

        def sample() -> None:
            while not stop.wait(options.sample_seconds):
                samples.append((round(time.time() - started), platform.rss()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        asyncio.run(run_load(platform.gateway + "/graphql", ops, rate=options.rate, seconds=options.minutes * 60, load=load))
        stop.set()
        sampler.join(timeout=5)
        samples.append((round(time.time() - started), platform.rss()))
        alive = platform.alive()

    per_minute = []
    for minute in range(int(options.minutes + 0.999)):
        window = Load([o for o in load.outcomes if minute * 60 <= getattr(o, "at", 0) < (minute + 1) * 60])
        if window.outcomes:
            per_minute.append({"minute": minute + 1, **window.summary()})
    names = sorted(samples[0][1], key=lambda name: (not name.endswith("gateway"), name))
    print(json.dumps({
        "minutes": options.minutes, "rate": options.rate, "gateway_node_options": options.gateway_node_options,
        "overall": load.summary(), "per_minute": per_minute,
        "rss_mb": {name: {"start": round(samples[0][1].get(name, 0), 1), "end": round(samples[-1][1].get(name, 0), 1),
                          "max": round(max(s[1].get(name, 0) for s in samples), 1)} for name in names},
        "gateway_rss_curve": [(t, round(s.get("bench-gateway", 0), 1)) for t, s in samples],
        "all_processes_alive": all(alive.values()),
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
    }, indent=1))


if __name__ == "__main__":
    main()
