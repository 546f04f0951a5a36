#!/usr/bin/env python3
"""Catalog read throughput with the data cache off vs on, in one run.

    .venv/bin/python bench/cache_bench.py [--requests 4000] [--concurrency 8] [--products 3000]

Starts the real catalog service under gunicorn (deploy/gunicorn.conf.py, production settings)
three times on free loopback ports: caches off (CACHE_DATA_ENABLED=0, CACHE_RESULT_ENABLED=0),
data cache only, data + result cache. For two workloads, product detail (200 different products)
and a product list page (20 rows with categories and totalCount; 15 different pages over 3 sort
orders), each service is warmed up, then the three take turns (--rounds) sending a bounded
number of requests (each turn also capped by --time-cap), so background load on a shared
machine affects them alike. It prints requests/s and p50/p95/p99 latency per workload and mode,
the ratios to "off", and each service's cache counters from /metrics/.

It uses its own database (catalog_bench<DATABASE_NAME_SUFFIX>, seeded once) and its own
cache key prefix (deleted at the end), so it disturbs neither development data nor tests.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import resource
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

from common.testing.net import free_port

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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((latencies, errors, usage.ru_utime + usage.ru_stime))


class Load:
    """What one or more bursts of requests cost: latencies, errors, wall time, CPU seconds."""

    def __init__(self) -> None:
        self.latencies: list[int] = []
        self.errors = 0
        self.elapsed = self.client_cpu = self.server_cpu = 0.0

    def add(self, other: Load) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.elapsed += other.elapsed
        self.client_cpu += other.client_cpu
        self.server_cpu += other.server_cpu


def process_tree_cpu(root: int) -> float:
    """CPU seconds of a gunicorn master and its workers (exited workers through the master's
    children totals), from /proc."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == root:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif int(fields[1]) == root:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def run_load(port: int, requests: list[bytes], *, total: int, concurrency: int, time_cap: float, server_pid: int) -> Load:
    """`total` requests from `concurrency` client processes."""
    out: Any = multiprocessing.Queue()
    per_client = max(1, total // concurrency)
    deadline = time.monotonic() + time_cap
    workers = [
        multiprocessing.Process(target=client, args=(port, requests, per_client, i * 7919, deadline, out))
        for i in range(concurrency)
    ]
    server_before = process_tree_cpu(server_pid)
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [out.get(timeout=time_cap + 60) for _ in workers]
    load = Load()
    load.elapsed = time.perf_counter() - started
    load.server_cpu = process_tree_cpu(server_pid) - server_before
    for worker in workers:
        worker.join()
    for latencies, errors, cpu in results:
        load.latencies += latencies
        load.errors += errors
        load.client_cpu += cpu
    return load


def summarize(load: Load) -> dict[str, float]:
    latencies = sorted(load.latencies)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] / 1e6

    return {
        "requests": len(latencies),
        "errors": load.errors,
        "rps": len(latencies) / load.elapsed,
        "server_cpu_ms": load.server_cpu / len(latencies) * 1000,
        "client_cpu_ms": load.client_cpu / len(latencies) * 1000,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "mean": statistics.fmean(latencies) / 1e6,
    }


# --- the service under test -------------------------------------------------------------------


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


def prepare_database(database_url: str, name: str, products: int, prefix: str) -> None:
    """The bench's own database, migrated and seeded once. It belongs to the bench: when its
    migration history no longer fits the code (models were reworked), it is recreated."""
    import psycopg

    admin_url = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    def create(drop: bool) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            if drop:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                connection.execute(f'CREATE DATABASE "{name}"')

    env = service_env(database_url, f"{prefix}-setup", cache_on=False)
    manage = [str(VENV_BIN / "python"), "manage.py"]
    migrate = [*manage, "migrate", "--noinput", "-v", "0"]
    create(drop=False)
    if subprocess.run(migrate, cwd=PROJECT, env=env, capture_output=True).returncode:
        print(f"recreating {name}: its migration history does not fit the code", flush=True)
        create(drop=True)
        subprocess.run(migrate, cwd=PROJECT, env=env, check=True)
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
    """Lookups per layer and result, e.g. {"data hit": 1200, "result hit": 4000, ...}."""
    totals: dict[str, int] = {}
    pattern = r'cache_requests_total\{[^}]*layer="(\w+)"[^}]*result="(\w+)"[^}]*\} (\d+)'
    for match in re.finditer(pattern, service.get("/metrics/")):
        name = f"{match.group(1)} {match.group(2)}"
        totals[name] = totals.get(name, 0) + int(match.group(3))
    return totals


def delete_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    # Each service of the run has its own prefix starting with the run's (bench-<id>-<mode>).
    keys = list(client.scan_iter(match=f"{prefix}-*", count=1000))
    for start in range(0, len(keys), 1000):
        client.unlink(*keys[start : start + 1000])


# --- in-process probe: the same requests without HTTP, gunicorn or a load generator -------------


def probe_main(path: str) -> None:
    """Runs in a subprocess with the service's environment: times the WSGI app called directly."""
    import io

    sys.path.insert(0, str(PROJECT))
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    spec = json.loads(Path(path).read_text())
    bodies = [body.encode() for body in spec["bodies"]]

    def call(body: bytes) -> None:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/graphql/", "SCRIPT_NAME": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
        }
        status: list[str] = []
        response = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
        if not status[0].startswith("200") or b'"errors"' in response:
            raise SystemExit(f"probe request failed: {response[:300]!r}")

    for body in bodies:  # warm-up: every variant once
        call(body)
    count = spec["count"]
    cpu, started = time.process_time(), time.perf_counter()
    for index in range(count):
        call(bodies[index % len(bodies)])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"wall_ms": wall / count * 1000, "cpu_ms": cpu / count * 1000}))


def probe(env: dict[str, str], requests: list[bytes], count: int) -> dict[str, float]:
    import tempfile

    bodies = [request.split(b"\r\n\r\n", 1)[1].decode() for request in requests]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
        json.dump({"bodies": bodies, "count": count}, spec)
    try:
        output = subprocess.run(
            [str(VENV_BIN / "python"), __file__, "--probe", spec.name], cwd=PROJECT, env=env,
            capture_output=True, text=True, check=True, timeout=600,
        ).stdout
    finally:
        os.unlink(spec.name)
    return json.loads(output.strip().splitlines()[-1])


# (label, CACHE_DATA_ENABLED, CACHE_RESULT_ENABLED)
MODES = [("off", False, False), ("data", True, False), ("data+result", True, True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000, help="requests per workload and mode")
    parser.add_argument("--rounds", type=int, default=4, help="the modes take turns this many times per workload")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent client processes")
    parser.add_argument("--products", type=int, default=3000, help="catalog size (seeded once)")
    parser.add_argument("--time-cap", type=float, default=30.0, help="seconds at most per round, workload and mode")
    parser.add_argument("--probe-requests", type=int, default=1000, help="requests per in-process probe (0: skip)")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe_main(args.probe)
        return 0

    suffix = os.environ.get("DATABASE_NAME_SUFFIX", "")
    db_name = f"catalog_bench{suffix}"
    database_url = f"postgres://postgres@127.0.0.1:5432/{db_name}"
    prefix = f"bench-{secrets.token_hex(4)}"
    prepare_database(database_url, db_name, args.products, prefix)

    import psycopg

    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT id FROM catalog_product ORDER BY sku LIMIT 200").fetchall()
    product_ids = [str(row[0]) for row in rows]

    print(
        f"catalog cache benchmark: {args.products} products; per workload and mode {args.requests} requests "
        f"in {args.rounds} interleaved rounds; {args.concurrency} concurrent clients; gunicorn "
        f"{os.environ.get('GUNICORN_WORKERS', 'default')} workers per service; {os.cpu_count()} cores",
        flush=True,
    )
    services: dict[str, Service] = {}
    envs: dict[str, dict[str, str]] = {}
    batches_by_name: dict[str, dict[str, list[bytes]]] = {}
    results: dict[tuple[str, str], dict[str, float]] = {}
    counters: dict[str, dict[str, int]] = {}
    try:
        for label, data_on, result_on in MODES:
            env = service_env(database_url, f"{prefix}-{label}", data_on)
            env["CACHE_RESULT_ENABLED"] = "1" if result_on else "0"
            envs[label] = env
            services[label] = Service(env, label)
        names = list(workloads(services["off"], product_ids))
        for name in names:
            batches = {label: workloads(service, product_ids)[name] for label, service in services.items()}
            batches_by_name[name] = batches
            for label, service in services.items():  # warm-up: every variant once, then a short burst
                for request in batches[label]:
                    send(service.port, request)
                run_load(
                    service.port, batches[label], total=200, concurrency=args.concurrency, time_cap=10,
                    server_pid=service.process.pid,
                )
            collected = {label: Load() for label in services}
            # The modes take turns, so background load on the machine hits all of them alike.
            for _ in range(args.rounds):
                for label, service in services.items():
                    collected[label].add(
                        run_load(
                            service.port, batches[label], total=args.requests // args.rounds,
                            concurrency=args.concurrency, time_cap=args.time_cap, server_pid=service.process.pid,
                        )
                    )
            for label in services:
                results[(name, label)] = summarize(collected[label])
                print(f"  done: {name:<18} {label:<12} {results[(name, label)]['rps']:8.0f} req/s", flush=True)
        for label, service in services.items():
            counters[label] = hit_counters(service)
        for service in services.values():
            service.stop()
        probes: dict[tuple[str, str], dict[str, float]] = {}
        if args.probe_requests:
            print("  in-process probes (no HTTP)...", flush=True)
            for name, batches in batches_by_name.items():
                for label in services:
                    probes[(name, label)] = probe(envs[label], batches[label], args.probe_requests)
    finally:
        for service in services.values():
            service.stop()
        delete_prefix(prefix)

    print()
    header = ["req/s", "p50 ms", "p95 ms", "p99 ms", "srv cpu", "cli cpu"]
    print(f"{'workload':<18} {'caches on':<12} " + " ".join(f"{h:>8}" for h in header) + f" {'requests':>9} {'errors':>7}")
    for (name, label), row in results.items():
        print(
            f"{name:<18} {label:<12} {row['rps']:8.0f} {row['p50']:8.2f} {row['p95']:8.2f} {row['p99']:8.2f} "
            f"{row['server_cpu_ms']:8.2f} {row['client_cpu_ms']:8.2f} {row['requests']:9.0f} {row['errors']:7.0f}"
        )
    print("(srv cpu / cli cpu: CPU milliseconds per request spent in gunicorn (master + workers) / in the load generator)")
    print()
    for name in names:
        off = results[(name, "off")]
        for label in ("data", "data+result"):
            on = results[(name, label)]
            speedup, latency = on["rps"] / off["rps"], off["p50"] / on["p50"]
            cpu = off["server_cpu_ms"] / on["server_cpu_ms"]
            print(
                f"{name:<18} {label:<12} vs off: throughput {speedup:5.2f}x   p50 latency {latency:5.2f}x lower   "
                f"server CPU per request {cpu:5.2f}x lower"
            )
    if probes:
        print()
        print("The same requests in-process (WSGI app called directly: no HTTP, gunicorn or load generator):")
        for name in names:
            off = probes[(name, "off")]
            for label in services:
                row = probes[(name, label)]
                ratio = f"   {off['wall_ms'] / row['wall_ms']:5.2f}x faster than off" if label != "off" else ""
                print(f"{name:<18} {label:<12} {row['wall_ms']:7.3f} ms/request ({row['cpu_ms']:.3f} ms CPU){ratio}")
    print()
    for label, totals in counters.items():
        if totals:
            print(f"cache counters of the '{label}' service: {totals}")
    failed = sum(row["errors"] for row in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
