#!/usr/bin/env python3
"""Gateway overhead: the same operations directly on the catalog subgraph and through the gateway.

    .venv/bin/python bench/gateway_bench.py [--scale 1.0] [--concurrency 1 10 50]

One run starts every service under gunicorn (deploy/gunicorn.conf.py: gthread workers with keep-alive,
GUNICORN_* variables override it; production settings, their own `_bench` databases, seeded) and two
production-mode gateways over the full supergraph on free loopback ports: one with the engine's
in-flight de-duplication of identical subgraph requests (the default) and one without.
Every operation is then measured at each concurrency against the subgraph and both gateways, with
a fixed number of requests (keep-alive where the server allows it; targets interleaved in rounds so
background load hits them alike), and the script prints req/s,
p50/p95/p99 and the gateway-over-subgraph p50 ratio (target: <= 1.3x for a single-subgraph query).
The load generator runs on the same 2 cores as everything else: compare rows, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from common.testing.net import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import devtools.services as discovery  # noqa: E402 - starts services and gateways the same way `up` does
from devtools.bootstrap import setup  # noqa: E402
from devtools.env import production_env  # noqa: E402
from devtools.gateway import compose_supergraph, ensure_gateway_dependencies, start_gateway  # noqa: E402
from devtools.paths import LOG_DIR  # noqa: E402
from devtools.servers import start_services  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

LIST_QUERY = """query ProductList {
  products(first: 20) { edges { node { id sku name price { amount currency } inStock category { id name } } } }
}"""
DETAIL_QUERY = """query ProductDetail($id: ID!) {
  product(id: $id) { id sku name description price { amount currency } stockQuantity inStock category { id name } }
}"""

REQUESTS_PER_CONCURRENCY = {1: 400, 10: 1200, 50: 2000}
WARMUP_REQUESTS = 50


@dataclass
class Result:
    target: str
    operation: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- a small HTTP/1.1 load generator (asyncio, keep-alive when the server allows it) ---------------


class Connection:
    def __init__(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.request = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def load(url: str, body: bytes, *, requests: int, concurrency: int,
               headers: dict[str, str] | None = None) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def worker() -> None:
        nonlocal remaining, errors
        connection = Connection(url, body, headers)
        try:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                status, answer = await connection.send()
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200 or b'"errors"' in answer:
                    errors += 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def measure_cell(targets: dict[str, str], operation: str, body: bytes, concurrency: int, scale: float,
                 rounds: int = 4) -> list[Result]:
    """All targets for one (operation, concurrency), in interleaved rounds so that a change in the
    machine's background load hits every target alike."""
    count = max(concurrency * rounds, int(REQUESTS_PER_CONCURRENCY.get(concurrency, 1000) * scale))
    per_round = count // rounds
    for url in targets.values():
        asyncio.run(load(url, body, requests=WARMUP_REQUESTS, concurrency=min(concurrency, 10)))
    results = {name: Result(name, operation, concurrency, 0, 0, 0.0, []) for name in targets}
    for _ in range(rounds):
        for name, url in targets.items():
            latencies, errors, seconds = asyncio.run(load(url, body, requests=per_round, concurrency=concurrency))
            result = results[name]
            result.requests += per_round
            result.errors += errors
            result.seconds += seconds
            result.latencies_ms += latencies
    return list(results.values())


# --- the run ------------------------------------------------------------------------------------


def start_platform(supervisor: Supervisor, *, subgraph_cache: bool) -> tuple[str, dict[str, str]]:
    """Every service under gunicorn plus two production gateways over the full supergraph;
    returns (catalog GraphQL URL, {gateway name: GraphQL URL})."""
    ensure_gateway_dependencies()
    setup(production=True)
    ports = {s["name"]: free_port() for s in discovery.services()}
    switches = {} if subgraph_cache else {"CACHE_DATA_ENABLED": "false", "CACHE_RESULT_ENABLED": "false"}
    base = start_services(supervisor, production=True, ports=ports,
                                     extra_env={**production_env(), **switches})
    subgraphs = discovery.graphql_urls(base)
    supergraph = LOG_DIR / "bench-supergraph.graphql"
    compose_supergraph(subgraphs, out=supergraph)
    gateways = {}
    for name, dedupe in (("gateway (dedup on)", "1"), ("gateway (dedup off)", "0")):
        # The hop itself: anonymous catalog reads would otherwise be answered from the gateway's
        # response cache (bench/gateway_cache_bench.py measures that).
        env = {"GATEWAY_DEDUPE_INFLIGHT": dedupe, "GATEWAY_RESPONSE_CACHE": "0"}
        url = start_gateway(supervisor, port=free_port(), production=True, supergraph=supergraph,
                                       name=f"bench-gateway-dedupe-{dedupe}", extra_env=env)
        gateways[name] = url + "/graphql"
    return subgraphs["catalog"], gateways


def first_product_id(url: str) -> str:
    import urllib.request

    request = urllib.request.Request(url, json.dumps({"query": "{ products(first: 1) { edges { node { id } } } }"}).encode(),
                                     {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]["products"]["edges"][0]["node"]["id"]


def print_table(results: list[Result]) -> None:
    print(f"\n{'operation':<15} {'c':>3} {'target':<20} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6} {'p50 ratio':>9}")
    direct = {(r.operation, r.concurrency): r for r in results if r.target == "subgraph (direct)"}
    for r in results:
        base = direct[(r.operation, r.concurrency)]
        ratio = "" if r is base else f"{r.percentile(50) / base.percentile(50):.2f}x"
        print(f"{r.operation:<15} {r.concurrency:>3} {r.target:<20} {r.rps:>8.0f} {r.percentile(50):>8.2f} "
              f"{r.percentile(95):>8.2f} {r.percentile(99):>8.2f} {r.errors:>6} {ratio:>9}")


def print_summary(results: list[Result]) -> None:
    print("\ngateway-over-subgraph p50 ratio per concurrency (target <= 1.30x for a single-subgraph query):")
    direct = {(r.operation, r.concurrency): r for r in results if r.target == "subgraph (direct)"}
    for target in sorted({r.target for r in results} - {"subgraph (direct)"}):
        cells = [r for r in results if r.target == target]
        by_c = {}
        for r in cells:
            by_c.setdefault(r.concurrency, []).append(r.percentile(50) / direct[(r.operation, r.concurrency)].percentile(50))
        ratios = ", ".join(f"c={c}: {statistics.median(v):.2f}x" for c, v in sorted(by_c.items()))
        added = [r.percentile(50) - direct[(r.operation, r.concurrency)].percentile(50) for r in cells if r.concurrency == 1]
        extra = f"; added p50 latency at c=1: {statistics.median(added):+.2f} ms" if added else ""
        print(f"  {target:<20} {ratios}{extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the request counts (default 1.0)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--subgraph-cache", choices=["on", "off"], default="on",
                        help="the catalog's data and result caches (docs/caching.md), on by default")
    args = parser.parse_args()

    os.environ["DATABASE_NAME_SUFFIX"] = os.environ.get("DATABASE_NAME_SUFFIX", "") + "_bench"
    supervisor = Supervisor()
    try:
        subgraph_url, gateways = start_platform(supervisor, subgraph_cache=args.subgraph_cache == "on")
        targets = {"subgraph (direct)": subgraph_url, **gateways}
        product_id = first_product_id(subgraph_url)
        operations = {
            "products(20)": json.dumps({"query": LIST_QUERY}).encode(),
            "product(id)": json.dumps({"query": DETAIL_QUERY, "variables": {"id": product_id}}).encode(),
        }
        print(f"load average at the start: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        workers = os.environ.get("GUNICORN_WORKERS", os.cpu_count() * 2 + 1)
        worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
        threads = os.environ.get("GUNICORN_THREADS", 4) if worker_class == "gthread" else 1
        print(f"catalog (gunicorn, {workers} {worker_class} workers x {threads} threads, caches {args.subgraph_cache}) "
              f"at {subgraph_url}")
        runtime = "JavaScript" if os.environ.get("GATEWAY_ROUTER_RUNTIME") in ("0", "false") else "Hive Router (Rust planner)"
        for name, url in gateways.items():
            print(f"{name} at {url}, production mode, {runtime} runtime, response cache off")
        results = []
        for operation, body in operations.items():
            for concurrency in args.concurrency:
                cell = measure_cell(targets, operation, body, concurrency, args.scale)
                results += cell
                print(f"  measured {operation} c={concurrency}: "
                      + ", ".join(f"{r.target} {r.rps:.0f} req/s" for r in cell), flush=True)
        print_table(results)
        print_summary(results)
        print(f"\nload average (1/5/15 min) at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} "
              f"on {os.cpu_count()} cores; other work on the machine skews absolute figures")
        if any(r.errors for r in results):
            print("\nSOME REQUESTS FAILED (see the errors column)")
            return 1
        return 0
    finally:
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
