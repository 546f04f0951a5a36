#!/usr/bin/env python3
"""Catalog read throughput with the data cache off vs on, in one run.

    .venv/bin/python bench/cache_bench.py [--requests 4000] [--concurrency 8] [--products 3000]

Starts the real catalog service under gunicorn (deploy/gunicorn.conf.py, production settings)
twice on free loopback ports: once with CACHE_DATA_ENABLED=0, once with it on. Each time it
warms up, then sends a bounded number of requests (and never runs longer than --time-cap) for
two workloads: product detail (200 different products) and a product list page (20 rows with
categories and totalCount; 15 different pages over 3 sort orders). It prints requests/s and
p50/p95/p99 latency per workload and mode, the on/off ratio, and the cache hit counters.

It uses its own database (catalog_bench<DATABASE_NAME_SUFFIX>, seeded once) and its own
cache key prefix (deleted at the end), so it disturbs neither development data nor tests.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "catalog_project"
VENV_BIN = ROOT / ".venv" / "bin"
LOG_DIR = ROOT / ".run"

DETAIL = (
    "query($id: ID!) { product(id: $id) { id sku name description price { amount currency } "
    "stockQuantity inStock isActive category { id name slug } } }"
)
PAGE = (
    "query($first: Int, $after: String, $orderBy: ProductOrderBy) { products(first: $first, after: $after, "
    "orderBy: $orderBy) { totalCount edges { cursor node { id sku name price { amount currency } stockQuantity "
    "inStock category { id name } } } pageInfo { hasNextPage endCursor } } }"
)


# --- load generator ---------------------------------------------------------------------------


def http_request(body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        "POST /graphql/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + payload


def send(port: int, request: bytes) -> tuple[bool, bytes]:
    """One request on a fresh connection (gunicorn sync workers close after each response)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    ok = response.startswith(b"HTTP/1.1 200") and b'"errors"' not in response
    return ok, response


def client(port: int, requests: list[bytes], count: int, offset: int, deadline: float, out: Any) -> None:
    latencies, errors = [], 0
    for index in range(count):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter_ns()
        try:
            ok, _ = send(port, requests[(offset + index) % len(requests)])
        except OSError:
            ok = False
        latencies.append(time.perf_counter_ns() - started)
        errors += not ok
    out.put((latencies, errors))


def run_load(port: int, requests: list[bytes], *, total: int, concurrency: int, time_cap: float) -> dict[str, float]:
    out: Any = multiprocessing.Queue()
    per_client = total // concurrency
    deadline = time.monotonic() + time_cap
    workers = [
        multiprocessing.Process(target=client, args=(port, requests, per_client, i * 7919, deadline, out))
        for i in range(concurrency)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [out.get(timeout=time_cap + 60) for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    latencies = sorted(latency for batch, _ in results for latency in batch)
    errors = sum(errors for _, errors in results)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] / 1e6

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "mean": statistics.fmean(latencies) / 1e6,
    }


# --- the service under test -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_env(database_url: str, prefix: str, cache_on: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "catalog_project.settings.prod",
            "DJANGO_SECRET_KEY": "bench-" + secrets.token_hex(16),
            "DATABASE_URL": database_url,
            "CACHE_KEY_PREFIX": prefix,
            "CACHE_DATA_ENABLED": "1" if cache_on else "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def prepare_database(database_url: str, name: str, products: int) -> None:
    import psycopg

    admin_url = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    env = service_env(database_url, "bench-setup", cache_on=False)
    manage = [str(VENV_BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=PROJECT, env=env, check=True)
    subprocess.run([*manage, "seed_catalog", "--products", str(products), "--if-empty"], cwd=PROJECT, env=env, check=True)


class Service:
    def __init__(self, env: dict[str, str], label: str) -> None:
        self.port = free_port()
        LOG_DIR.mkdir(exist_ok=True)
        self.log = (LOG_DIR / f"bench-{label}.log").open("wb")
        command = [
            str(VENV_BIN / "gunicorn"),
            "catalog_project.wsgi:application",
            "--config",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{self.port}",
        ]
        self.process = subprocess.Popen(
            command, cwd=PROJECT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log.name}")
            try:
                if self.get("/health/").startswith("{"):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not become ready")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
            return response.read().decode()

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        ok, response = send(self.port, http_request({"query": query, "variables": variables}))
        body = json.loads(response.split(b"\r\n\r\n", 1)[1])
        if not ok:
            raise SystemExit(f"request failed: {body}")
        return body["data"]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def workloads(service: Service, product_ids: list[str]) -> dict[str, list[bytes]]:
    detail = [http_request({"query": DETAIL, "variables": {"id": pk}}) for pk in product_ids]
    pages = []
    for order in ("NAME_ASC", "PRICE_ASC", "NEWEST"):
        after = None
        for _ in range(5):
            variables = {"first": 20, "after": after, "orderBy": order}
            pages.append(http_request({"query": PAGE, "variables": variables}))
            after = service.graphql(PAGE, variables)["products"]["pageInfo"]["endCursor"]
    return {"product detail": detail, "product list page": pages}


def hit_counters(service: Service) -> dict[str, int]:
    totals: dict[str, int] = {}
    pattern = r'cache_requests_total\{[^}]*layer="data"[^}]*result="(\w+)"[^}]*\} (\d+)'
    for match in re.finditer(pattern, service.get("/metrics/")):
        totals[match.group(1)] = totals.get(match.group(1), 0) + int(match.group(2))
    return totals


def delete_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.unlink(*keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000, help="requests per workload and mode")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent client processes")
    parser.add_argument("--products", type=int, default=3000, help="catalog size (seeded once)")
    parser.add_argument("--time-cap", type=float, default=60.0, help="seconds at most per workload and mode")
    args = parser.parse_args()

    suffix = os.environ.get("DATABASE_NAME_SUFFIX", "")
    db_name = f"catalog_bench{suffix}"
    database_url = f"postgres://postgres@127.0.0.1:5432/{db_name}"
    prepare_database(database_url, db_name, args.products)

    import psycopg

    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT id FROM catalog_product ORDER BY sku LIMIT 200").fetchall()
    product_ids = [str(row[0]) for row in rows]

    prefix = f"bench-{secrets.token_hex(4)}"
    results: dict[tuple[str, str], dict[str, float]] = {}
    counters: dict[str, int] = {}
    print(
        f"catalog cache benchmark: {args.products} products, {args.requests} requests per row, "
        f"{args.concurrency} concurrent clients, gunicorn {os.environ.get('GUNICORN_WORKERS', 'default')} workers, "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    try:
        for mode, cache_on in (("cache off", False), ("cache on", True)):
            service = Service(service_env(database_url, f"{prefix}-{int(cache_on)}", cache_on), mode.replace(" ", "-"))
            try:
                for name, requests in workloads(service, product_ids).items():
                    # Warm-up: every variant once (fills the cache in "on"), then a short burst.
                    for request in requests:
                        send(service.port, request)
                    run_load(service.port, requests, total=min(400, args.requests), concurrency=args.concurrency, time_cap=10)
                    results[(name, mode)] = run_load(
                        service.port, requests, total=args.requests, concurrency=args.concurrency, time_cap=args.time_cap
                    )
                    row = results[(name, mode)]
                    print(f"  done: {name:<18} {mode:<9} {row['rps']:8.0f} req/s", flush=True)
                if cache_on:
                    counters = hit_counters(service)
            finally:
                service.stop()
    finally:
        delete_prefix(prefix)

    print()
    print(f"{'workload':<18} {'mode':<9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for (name, mode), row in results.items():
        print(
            f"{name:<18} {mode:<9} {row['rps']:8.0f} {row['p50']:8.2f} {row['p95']:8.2f} {row['p99']:8.2f} "
            f"{row['requests']:9.0f} {row['errors']:7.0f}"
        )
    print()
    for name in ("product detail", "product list page"):
        off, on = results[(name, "cache off")], results[(name, "cache on")]
        speedup, latency = on["rps"] / off["rps"], off["p50"] / on["p50"]
        print(f"{name:<18} cached/uncached throughput: {speedup:.2f}x   p50 latency: {latency:.2f}x lower")
    lookups = counters.get("hit", 0) + counters.get("miss", 0) + counters.get("coalesced", 0)
    if lookups:
        print(f"data cache during the 'cache on' run: {counters} (hit ratio {counters.get('hit', 0) / lookups:.3f})")
    failed = sum(row["errors"] for row in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
