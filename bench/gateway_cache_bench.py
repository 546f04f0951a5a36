#!/usr/bin/env python3
"""Caching end to end, through the gateway: the same workload with the caches off and on, in one run.

    .venv/bin/python bench/gateway_cache_bench.py [--scale 1.0] [--concurrency 1 10]

Starts the services under gunicorn (production settings, `_bench` databases, seeded), a second catalog
with its caches off (CACHE_DATA_ENABLED / CACHE_RESULT_ENABLED false) and three production gateways:

- no caches:        gateway response cache off, catalog caches off
- subgraph caches:  gateway response cache off, catalog caches on (docs/caching.md layers 2 and 2b)
- all caches:       gateway response cache on (layer 3), catalog caches on

Workload: product detail, product list page (20 products with categories), and a query spanning two
subgraphs (`me` from accounts + `products(first: 10)` from catalog) sent with a customer's token: it is
private, so the gateway's response cache never stores it (the rows show what that costs). There is no
public cross-subgraph query in the schema today (no entity of one subgraph extends another's).
Prints req/s and p50/p95/p99 per cell, the throughput ratios and the gateway's cache counters.
Loopback only; a fixed number of requests per cell; the load generator shares the 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.request
from pathlib import Path

from common.testing.net import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gateway_bench import DETAIL_QUERY, LIST_QUERY, Result, load  # noqa: E402

import devtools.services as discovery  # noqa: E402 - starts services and gateways the same way `up` does
from devtools.bootstrap import setup  # noqa: E402
from devtools.env import production_env  # noqa: E402
from devtools.gateway import compose_supergraph, ensure_gateway_dependencies, start_gateway  # noqa: E402
from devtools.paths import LOG_DIR  # noqa: E402
from devtools.servers import start_services  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

CROSS_QUERY = "query MeAndProducts { me { email } products(first: 10) { edges { node { id name price { amount } } } } }"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
DEMO_USER = ("customer@example.com", "Customer-demo-pass-1")  # seeded by seed_accounts
REQUESTS = {1: 600, 10: 2000}
CONFIGS = ("no caches", "subgraph caches", "all caches")


def post(url: str, query: str, variables: dict | None = None, headers: dict[str, str] | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _query_of(body: bytes) -> dict:
    payload = json.loads(body)
    return {"query": payload["query"], "variables": payload.get("variables")}


def start(supervisor: Supervisor, cold: Supervisor) -> dict[str, str]:
    """Returns {config name: gateway base URL}."""
    ensure_gateway_dependencies()
    setup(production=True)
    ports = {s["name"]: free_port() for s in discovery.services()}
    # Every service verifies tokens against this run's accounts.
    env = {**production_env(), "AUTH_JWKS_URL": f"http://127.0.0.1:{ports['accounts']}/.well-known/jwks.json"}
    warm = discovery.graphql_urls(start_services(supervisor, production=True, ports=ports, extra_env=env))
    cold_base = start_services(
        cold, production=True, ports={"catalog": free_port()}, only=["catalog"],
        extra_env={**env, "CACHE_DATA_ENABLED": "false", "CACHE_RESULT_ENABLED": "false"})["catalog"]
    catalog_path = next(s["graphql_path"] for s in discovery.subgraphs() if s["name"] == "catalog")
    cold_catalog = {"catalog": cold_base + catalog_path}
    supergraphs = {}
    for name, subgraphs in (("warm", warm), ("cold", {**warm, **cold_catalog})):
        path = LOG_DIR / f"bench-cache-supergraph-{name}.graphql"
        compose_supergraph(subgraphs, out=path)
        supergraphs[name] = path
    gateways = {}
    for config, supergraph, response_cache in (("no caches", "cold", "0"), ("subgraph caches", "warm", "0"),
                                               ("all caches", "warm", "1")):
        gateways[config] = start_gateway(
            supervisor, port=free_port(), production=True, supergraph=supergraphs[supergraph],
            name=f"bench-cache-gateway-{config.split()[0]}",
            # In-flight de-duplication off: it merges identical concurrent requests, a cache of its own.
            extra_env={"GATEWAY_RESPONSE_CACHE": response_cache, "GATEWAY_DEDUPE_INFLIGHT": "0"})
    return gateways


def measure(gateways: dict[str, str], operation: str, body: bytes, concurrency: int, scale: float,
            headers: dict[str, str] | None, rounds: int = 4) -> list[Result]:
    """Configs interleaved in rounds, so background load on the machine hits them alike."""
    count = max(concurrency * rounds, int(REQUESTS[concurrency] * scale)) if concurrency in REQUESTS else 1000
    results = {name: Result(name, operation, concurrency, 0, 0, 0.0, []) for name in gateways}
    for url in gateways.values():  # warm-up: fills every cache
        asyncio.run(load(url + "/graphql", body, requests=50, concurrency=min(concurrency, 10), headers=headers))
    for _ in range(rounds):
        for name, url in gateways.items():
            latencies, errors, seconds = asyncio.run(
                load(url + "/graphql", body, requests=count // rounds, concurrency=concurrency, headers=headers))
            result = results[name]
            result.requests += count // rounds
            result.errors += errors
            result.seconds += seconds
            result.latencies_ms += latencies
    return list(results.values())


def print_results(results: list[Result]) -> None:
    print(f"\n{'operation':<22} {'c':>3} {'caches':<16} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for r in results:
        print(f"{r.operation:<22} {r.concurrency:>3} {r.target:<16} {r.rps:>8.0f} {r.percentile(50):>8.2f} "
              f"{r.percentile(95):>8.2f} {r.percentile(99):>8.2f} {r.errors:>6}")
    print("\nthroughput ratios (target: all caches >= 10x no caches for catalog reads):")
    cells = {(r.operation, r.concurrency, r.target): r for r in results}
    for operation, concurrency in dict.fromkeys((r.operation, r.concurrency) for r in results):
        base = cells[(operation, concurrency, "no caches")]
        sub = cells[(operation, concurrency, "subgraph caches")]
        full = cells[(operation, concurrency, "all caches")]
        print(f"  {operation:<22} c={concurrency:<3} all/none {full.rps / base.rps:6.2f}x   "
              f"all/subgraph {full.rps / sub.rps:6.2f}x   subgraph/none {sub.rps / base.rps:6.2f}x   "
              f"p50 none->all {base.percentile(50):.2f} -> {full.percentile(50):.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the request counts")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench"
    supervisor, cold = Supervisor(), Supervisor()
    try:
        gateways = start(supervisor, cold)
        graphql = gateways["subgraph caches"] + "/graphql"
        first = post(graphql, "{ products(first: 1) { edges { node { id } } } }")
        product_id = first["data"]["products"]["edges"][0]["node"]["id"]
        token = post(graphql, LOGIN, {"e": DEMO_USER[0], "p": DEMO_USER[1]})["data"]["login"]["accessToken"]
        workload = {
            "product detail": (json.dumps({"query": DETAIL_QUERY, "variables": {"id": product_id}}).encode(), None),
            "product list page": (json.dumps({"query": LIST_QUERY}).encode(), None),
            "me + products (token)": (json.dumps({"query": CROSS_QUERY}).encode(), {"Authorization": f"Bearer {token}"}),
        }
        for operation, (body, headers) in workload.items():  # every operation must answer cleanly
            sample = post(graphql, **{"headers": headers}, **_query_of(body))
            if sample.get("errors"):
                raise SystemExit(f"{operation}: {sample['errors']}")
        print(f"load average at the start: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        results = []
        for operation, (body, headers) in workload.items():
            for concurrency in args.concurrency:
                cell = measure(gateways, operation, body, concurrency, args.scale, headers)
                results += cell
                print(f"  measured {operation} c={concurrency}: " + ", ".join(f"{r.target} {r.rps:.0f} req/s" for r in cell),
                      flush=True)
        print_results(results)
        with urllib.request.urlopen(gateways["all caches"] + "/health", timeout=10) as response:
            counters = json.load(response)["responseCache"]
        print(f"\ngateway response cache counters (all caches): hit {counters['hit']}, miss {counters['miss']}, "
              f"stored {counters['store']}, not cacheable {counters['skipped']}, errors {counters['error']}")
        print(f"load average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 1 if any(r.errors for r in results) else 0
    finally:
        cold.stop()
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
