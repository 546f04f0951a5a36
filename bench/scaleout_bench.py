"""Scale-out run: two replicas of every web process behind one round-robin address, the gateway in
front of those addresses, two relays and two consumers per service (one consumer group), a mixed
load through the gateway, and one replica of each killed mid-load.

    .venv/bin/python bench/scaleout_bench.py [--seconds 40] [--concurrency 8] [--partitions 3]

Web replicas are stopped with SIGTERM (a rolling update / node drain: gunicorn finishes its
requests); one relay and one consumer per service with SIGKILL (a crash: nothing is flushed).
Then it waits for the outboxes to drain and the consumers to settle and checks, from the
databases: every load request succeeded, every event was published and applied once, and the
state shows no duplicate effect (stock = initial + successful adjustments; each registered user
once in the catalog's replica). Prints the figures with os.getloadavg(). Own databases
(`<name><DATABASE_NAME_SUFFIX>_scaleout`), own broker, free ports; everything stops at the end.
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


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]


@dataclass
class Load:
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    adjusted: Counter[str] = field(default_factory=Counter)  # product id -> successful +1 adjustments
    registered: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


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
                   kill_at: float, on_kill: Any) -> None:
    deadline = time.monotonic() + seconds
    kill_time = time.monotonic() + kill_at

    async def call(client: httpx.AsyncClient, kind: str, body: dict[str, Any], auth: bool) -> dict[str, Any] | None:
        headers = {"authorization": f"Bearer {token}"} if auth else {}
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
        if response.status_code != 200 or payload.get("errors"):
            load.errors[kind] += 1
            load.error_samples.append(f"{kind}: {response.status_code} {json.dumps(payload.get('errors'))[:300]}")
            return None
        return payload["data"]

    async def worker(number: int) -> None:
        rng = random.Random(number)
        async with httpx.AsyncClient(timeout=30) as client:
            while time.monotonic() < deadline:
                roll = rng.random()
                if roll < 0.6:
                    await call(client, "read products", {"query": PRODUCTS, "variables": {"first": 10}}, False)
                elif roll < 0.85:
                    product = rng.choice(product_ids)
                    data = await call(client, "adjust stock", {"query": ADJUST, "variables": {"id": product, "delta": 1}}, True)
                    if data is not None:
                        load.adjusted[product] += 1
                elif roll < 0.95:
                    email = f"scale-{uuid.uuid4().hex[:12]}@example.com"
                    variables = {"input": {"email": email, "password": f"Scale-{uuid.uuid4().hex}", "fullName": "Scale Test"}}
                    if await call(client, "register", {"query": REGISTER, "variables": variables}, False) is not None:
                        load.registered.append(email)
                else:
                    await call(client, "me", {"query": ME}, True)

    async def killer() -> None:
        await asyncio.sleep(max(0.0, kill_time - time.monotonic()))
        on_kill()

    await asyncio.gather(killer(), *(worker(n) for n in range(concurrency)))


def settle(load: Load, since: dict[str, int], stock_before: dict[str, int], timeout: float = 180) -> dict[str, Any]:
    """Wait for every outbox to drain and the consumers to apply everything; then the checks."""
    listed = services()
    started = time.monotonic()
    wait(lambda: all(query(s["database"], "SELECT count(*) FROM events_outboxevent WHERE sent_at IS NULL")[0][0] == 0
                     for s in listed), timeout, "the outboxes to drain")
    drained = time.monotonic() - started

    def load_events(database: str) -> list[tuple[Any, ...]]:
        return query(database, "SELECT event_id, event_type, topic FROM events_outboxevent WHERE id > %s", [since[database]])

    sent = {s["database"]: load_events(s["database"]) for s in listed}
    consumer = "catalog"  # the catalog consumes catalog.product (read model) and accounts.user (replica)
    handled_types = {row[0] for row in query(consumer, "SELECT DISTINCT event_type FROM events_processedevent")}
    expected = {row[0] for rows in sent.values() for row in rows if row[1] in handled_types}

    def applied() -> set[Any]:
        rows = query(consumer, "SELECT DISTINCT event_id FROM events_processedevent WHERE event_id = ANY(%s)", [list(expected)])
        return {row[0] for row in rows}

    wait(lambda: applied() == expected, timeout, "every event applied by the consumers")
    pairs = query(consumer, "SELECT count(*), count(DISTINCT (event_id, handler)) FROM events_processedevent "
                  "WHERE event_id = ANY(%s)", [list(expected)])[0]
    stock_after = dict(query("catalog", "SELECT id::text, stock_quantity FROM catalog_product WHERE id::text = ANY(%s)",
                             [list(stock_before)]))
    wrong_stock = [p for p in stock_before if stock_after[p] != stock_before[p] + load.adjusted[p]]
    replica = query("catalog", "SELECT email, count(*) FROM replica_user WHERE email = ANY(%s) GROUP BY email",
                    [load.registered])
    return {
        "drain_seconds": round(drained, 1),
        "events_sent": sum(len(rows) for rows in sent.values()),
        "events_by_service": {database: len(rows) for database, rows in sent.items()},
        "events_expected_at_consumer": len(expected),
        "events_applied": len(applied()),
        "handler_applications": pairs[0],
        "duplicate_applications": pairs[0] - pairs[1],
        "products_with_wrong_stock": len(wrong_stock),
        "registered_users": len(load.registered),
        "replica_users_found": len(replica),
        "replica_users_duplicated": sum(1 for _, count in replica if count != 1),
    }


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
        with httpx.Client(timeout=30) as client:
            token = client.post(f"{gateway}/graphql", json={"query": LOGIN, "variables": {"e": MANAGER[0], "p": MANAGER[1]}}
                                ).json()["data"]["login"]["accessToken"]
            edges = client.post(f"{gateway}/graphql", json={"query": PRODUCTS, "variables": {"first": 20}}).json()
        stock_before = {e["node"]["id"]: e["node"]["stockQuantity"] for e in edges["data"]["products"]["edges"]}
        # Settle the seed events first, so the checks cover the load's events only.
        since = {s["database"]: query(s["database"], "SELECT coalesce(max(id), 0) FROM events_outboxevent")[0][0]
                 for s in cluster.services}
        load, killed = Load(), []
        started = time.monotonic()
        asyncio.run(run_load(gateway, args.seconds, args.concurrency, load, list(stock_before), token,
                             args.seconds / 2, lambda: killed.extend(cluster.kill_one_of_each())))
        elapsed = time.monotonic() - started
        checks = settle(load, since, stock_before)
        latencies = sorted(load.latencies)
        total, errors = sum(load.requests.values()), sum(load.errors.values())
        figures = {
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
            "seconds": round(elapsed, 1),
            "concurrency": args.concurrency,
            "partitions": args.partitions,
            "replicas": "2 web (round-robin) + 2 relays + 2 consumers per service, 1 gateway",
            "killed_mid_load": killed,
            "requests": total,
            "requests_per_second": round(total / elapsed, 1),
            "errors": errors,
            "requests_by_kind": dict(load.requests),
            "errors_by_kind": dict(load.errors),
            "latency_ms_p50_p95_p99": [round(latencies[int(len(latencies) * q)] * 1000, 1) for q in (0.5, 0.95, 0.99)]
            if latencies else [],
            "connections_per_replica": {f"port {b.port}": dict(b.connections) for b in cluster.balancers},
            "balancer_resent_first_bytes": sum(b.retried for b in cluster.balancers),
            **checks,
        }
        print(json.dumps(figures, indent=2))
        for sample in load.error_samples[:10]:
            print("error:", sample)
        ok = (errors == 0 and checks["duplicate_applications"] == 0 and checks["products_with_wrong_stock"] == 0
              and checks["events_applied"] == checks["events_expected_at_consumer"]
              and checks["replica_users_found"] == checks["registered_users"] and checks["replica_users_duplicated"] == 0)
        print("RESULT:", "OK: nothing lost, nothing applied twice" if ok else "FAILED", f"(logs in {cluster.logs})")
        return 0 if ok else 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    raise SystemExit(main())
