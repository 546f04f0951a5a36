"""The whole platform on free loopback ports, for the benchmarks.

- `Platform` (bench/faults_bench.py, bench/soak_bench.py, bench/fuzz_bench.py): every service in
  services.json with its relay and consumer, a private Tansu broker, a PRIVATE redis-server (the shared
  6379 one is never touched: the benchmarks restart theirs), and a production-mode gateway. Databases:
  <service><DATABASE_NAME_SUFFIX>_faults, fresh. Everything stops with the `Platform` context (and with
  this process: start_new_session + killpg).
- `start_production_platform` (bench/checkout_bench.py, bench/workload_bench.py): every service under
  gunicorn with production settings, each service's own Redis, the topics, every worker of services.json
  on a given broker, and a production gateway; stopped by the caller's Supervisor.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _cpu import process_tree, rss_mb  # bench/_cpu.py: the benches run from bench/, which is on sys.path
from common.testing.net import free_port, port_open
from common.testing.polling import TimedOut
from common.testing.polling import wait_until as _wait_until

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools import bootstrap  # noqa: E402 - the repository root is on sys.path from here on
from devtools.env import production_env, service_env  # noqa: E402
from devtools.gateway import compose_supergraph, ensure_gateway_dependencies, start_gateway  # noqa: E402
from devtools.manage import manage  # noqa: E402
from devtools.paths import LOG_DIR, VENV_PYTHON  # noqa: E402
from devtools.servers import start_services, start_workers  # noqa: E402
from devtools.service_redis import start_private_shared_redis, start_service_redis  # noqa: E402
from devtools.services import graphql_urls, services  # noqa: E402
from devtools.supervisor import Supervisor  # noqa: E402

ADMIN = ("admin@example.com", "Admin-demo-pass-1")
CUSTOMER = ("customer@example.com", "Customer-demo-pass-1")
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"


@dataclass
class Platform:
    suffix: str
    gateway_production: bool = True
    supervisor: Supervisor = field(default_factory=Supervisor)
    redis_port: int = field(default_factory=free_port)
    broker_port: int = field(default_factory=free_port)
    services: dict[str, str] = field(default_factory=dict)
    subgraphs: dict[str, str] = field(default_factory=dict)
    gateway: str = ""
    env: dict[str, str] = field(default_factory=dict)
    redis: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-platform-")))

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Platform:
        try:
            return self._start()
        except BaseException:
            self.__exit__()  # a failed start-up leaves nothing running
            raise

    def _start(self) -> Platform:
        os.environ["DATABASE_NAME_SUFFIX"] = self.suffix
        ensure_gateway_dependencies()
        self.start_redis()
        redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {"REDIS_URL": redis_url, "AUTH_REGISTRY_REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
                    "ACCOUNTS_TRUSTED_PROXY_COUNT": "1", "ACCOUNTS_REGISTRATIONS_PER_IP": "100000",
                    # placeOrder waits this long for the cart line the client just added (loaded machine);
                    # below the gateway's 10 s subgraph timeout, or orders.E001 stops `migrate`
                    "ORDERS_CART_WAIT_SECONDS": "5",
                    "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.broker_port}"}
        os.environ.update({k: v for k, v in self.env.items() if k != "LOG_LEVEL"})  # Node reads LOG_LEVEL too
        self.drop_databases()
        bootstrap.setup()
        self.start_broker()
        ports = {s["name"]: free_port() for s in services()}
        if "accounts" in ports:
            self.env["AUTH_JWKS_URL"] = f"http://127.0.0.1:{ports['accounts']}/.well-known/jwks.json"
        self.env.update(start_service_redis(self.supervisor, ports={s["name"]: free_port() for s in services() if s.get("redis")},
                                            data_root=self.workdir / "service-redis"))
        self.services = start_services(self.supervisor, ports=ports, extra_env=self.env)
        self.subgraphs = graphql_urls(self.services)
        self.start_workers()
        supergraph = self.workdir / "supergraph.graphql"
        assert compose_supergraph(graphql_urls(self.services), out=supergraph, check=False) == 0
        self.gateway = start_gateway(self.supervisor, port=free_port(), production=self.gateway_production,
                                                supergraph=supergraph, name="bench-gateway",
                                                extra_env={"REDIS_URL": redis_url})
        return self

    def __exit__(self, *exc: object) -> None:
        self.supervisor.stop()
        self.stop_redis()

    def drop_databases(self) -> None:
        drop_databases(self.suffix)

    def database(self, service: str) -> str:
        return next(s["database"] for s in services() if s["name"] == service) + self.suffix

    # --- the private Redis ------------------------------------------------------------------------

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        _wait_until(lambda: port_open(self.redis_port), timeout=20, what="redis")

    def stop_redis(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=10)
        self.redis = None

    # --- the broker and the workers -------------------------------------------------------------

    def start_broker(self) -> None:
        from common.events.broker import broker_command

        self.supervisor.start("bench-broker", broker_command(self.broker_port), cwd=ROOT, env=dict(os.environ))
        _wait_until(lambda: port_open(self.broker_port), timeout=30, what="broker")
        create_topics(self.env)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.supervisor.processes[name]
        os.killpg(process.pid, sig)
        process.wait(timeout=20)

    def restart_broker(self) -> None:
        self.supervisor.processes.pop("bench-broker", None)
        self.start_broker()

    def worker_names(self) -> list[str]:
        return [f"{s['name']}-{w.split()[0]}" for s in services() for w in s.get("workers", [])]

    def start_workers(self, only: list[str] | None = None) -> None:
        for service in services():
            env = service_env(service, "dev", self.env)
            for worker in service.get("workers", []):
                command, *arguments = worker.split()  # e.g. "expire_pending_orders --loop"
                name = f"{service['name']}-{command}"
                if only is None or name in only:
                    self.supervisor.start(name, [str(VENV_PYTHON), "manage.py", command, *arguments],
                                          cwd=ROOT / service["project"], env=env)

    def rss(self) -> dict[str, float]:
        """{process: resident MB of it and its children}, of every one still running."""
        figures = {name: rss_mb(process_tree(p.pid)) for name, p in self.supervisor.processes.items()
                   if p.poll() is None}
        if self.redis is not None:
            figures["bench-redis"] = rss_mb(process_tree(self.redis.pid))
        return figures

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self.supervisor.processes.items()}

    # --- talking to it ----------------------------------------------------------------------------

    def token(self, who: tuple[str, str]) -> str:
        body = httpx.post(self.gateway + "/graphql", json={"query": LOGIN, "variables": {"e": who[0], "p": who[1]}},
                          timeout=30).json()
        return body["data"]["login"]["accessToken"]

    def bearer(self, who: tuple[str, str], refresh_after: float = 200.0) -> Any:
        """headers() -> {"Authorization": ...}, signing in again before the access token (5 min) expires."""
        state = {"at": 0.0, "headers": {}}

        def headers() -> dict[str, str]:
            if time.monotonic() - state["at"] > refresh_after:
                state["headers"] = {"Authorization": f"Bearer {self.token(who)}"}
                state["at"] = time.monotonic()
            return state["headers"]

        return headers

    def sql(self, service: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{self.database(service)}", autocommit=True) as c:
            return list(c.execute(query, args or None))


def drop_databases(suffix: str) -> None:
    """Every service's database <name><suffix>, gone (a fresh run: the broker keeps nothing either)."""
    import psycopg

    admin = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin, autocommit=True) as connection:
        for service in services():
            connection.execute(f'DROP DATABASE IF EXISTS "{service["database"]}{suffix}" WITH (FORCE)')


def create_topics(env: dict[str, str]) -> None:
    """The topics of every service with workers, on the broker named in env["KAFKA_BOOTSTRAP_SERVERS"]."""
    for service in services():
        if service.get("workers"):
            manage(service, ["create_topics"], env=service_env(service, extra=env))


# --- production mode, the caller's broker (checkout_bench, workload_bench) -----------------------


@dataclass
class ProductionPlatform:
    gateway: str  # GraphQL URL
    gateway_base: str  # http://host:port (/health)
    services: dict[str, str]  # name -> base URL
    env: dict[str, str]  # what the services got (CART_REDIS_URL among it)


def start_production_platform(supervisor: Supervisor, *, broker: str, name: str,
                              extra_env: dict[str, str] | None = None,
                              gateway_env: dict[str, str] | None = None) -> ProductionPlatform:
    """Every service under gunicorn (production settings; databases named with DATABASE_NAME_SUFFIX,
    migrated and seeded by `setup`), each service's own Redis on a free port, the topics on `broker`,
    every worker of services.json and a production gateway named `name`, all on free ports."""
    ensure_gateway_dependencies()
    bootstrap.setup(production=True)
    ports = {s["name"]: free_port() for s in services()}
    # A private Redis for the caches, the gateway's response cache, the token registry and the metrics
    # counters: on the shared 6379 another engineer's run (another catalog behind the same seeded ids
    # and cache keys) would answer this run's misses, and its counters would add to this run's.
    env = {
        **production_env(),
        **start_private_shared_redis(supervisor, port=free_port(), name=f"{name}-redis"),
        "KAFKA_BOOTSTRAP_SERVERS": broker,
        "ORDERS_CART_WAIT_SECONDS": "5",  # below the gateway's 10 s subgraph timeout (orders.E001)
        # As in tests/conftest.py: this run's accounts JWKS, behind one proxy, no registration limit.
        "AUTH_JWKS_URL": f"http://127.0.0.1:{ports['accounts']}/.well-known/jwks.json",
        "ACCOUNTS_TRUSTED_PROXY_COUNT": "1",
        "ACCOUNTS_REGISTRATIONS_PER_IP": "10000",
        "GUNICORN_WORKERS": os.environ.get("GUNICORN_WORKERS", "2"),
        "GUNICORN_THREADS": os.environ.get("GUNICORN_THREADS", "4"),
        # /metrics/ answers 404 in production without it (common/metrics_access.py): X-Metrics-Token.
        "METRICS_TOKEN": secrets.token_urlsafe(16),
        **(extra_env or {}),
    }
    # Services that keep their data in a Redis of their own (the cart) get one on a free port.
    env.update(start_service_redis(supervisor, ports={s["name"]: free_port() for s in services() if s.get("redis")},
                                   data_root=Path(tempfile.mkdtemp(prefix=f"{name}-service-redis-", dir=LOG_DIR))))
    create_topics(env)
    # Production settings create no signing key (dev does): one of this run's own, as a deployment has.
    env["ACCOUNTS_SIGNING_KEYS_DIR"] = tempfile.mkdtemp(prefix=f"{name}-keys-", dir=LOG_DIR)
    for service in services():
        if service["name"] == "accounts":
            manage(service, ["rotate_signing_key"], env=service_env(service, "prod", env))
    base = start_services(supervisor, production=True, ports=ports, extra_env=env)
    start_workers(supervisor, broker=broker, production=True, extra_env=env)
    supergraph = LOG_DIR / f"{name}-supergraph.graphql"
    compose_supergraph(graphql_urls(base), out=supergraph)
    gateway = start_gateway(supervisor, port=free_port(), production=True, supergraph=supergraph, name=name,
                            extra_env={"REDIS_URL": env["REDIS_URL"], "AUTH_REGISTRY_REDIS_URL": env["REDIS_URL"],
                                       **(gateway_env or {})})
    return ProductionPlatform(gateway + "/graphql", gateway, base, env)


class SyncGateway:
    """The tests' GraphQL helper shape (data/error) over httpx, for tests/shopping.py's helpers."""

    def __init__(self, url: str, timeout: float = 60) -> None:
        self.http = httpx.Client(timeout=timeout)
        self.url = url

    def data(self, query: str, variables: dict | None = None, headers: dict | None = None) -> dict:
        body = self.http.post(self.url, json={"query": query, "variables": variables or {}}, headers=headers or {}).json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]

    def close(self) -> None:
        self.http.close()


# --- open-loop load -----------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    status: int
    seconds: float
    codes: tuple[str, ...]
    ok: bool
    at: float = 0.0  # seconds since the load started


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self, since: float = 0.0) -> dict[str, Any]:
        latencies = sorted(o.seconds * 1000 for o in self.outcomes)
        codes = Counter(code for o in self.outcomes for code in o.codes)
        return {
            "requests": len(self.outcomes),
            "ok": sum(o.ok for o in self.outcomes),
            "http_5xx": sum(o.status >= 500 for o in self.outcomes),
            "internal_server_error": codes.get("INTERNAL_SERVER_ERROR", 0),
            "error_codes": dict(codes.most_common(8)),
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else None,
            "max_ms": round(latencies[-1], 1) if latencies else None,
        }


async def run_load(url: str, operations: list[tuple[str, float, Any]], *, rate: float, seconds: float,
                   load: Load, concurrency: int = 32, events: list[tuple[float, Any]] | None = None) -> None:
    """Open loop: `rate` requests/s for `seconds`, drawn from `operations` [(name, weight, make_request)]
    where make_request() -> (json body, headers, check(data) or None); `events` [(at_second, callable)]
    run on the way (in a thread, while requests keep going out)."""
    import random

    rng = random.Random(13)
    names = [op[0] for op in operations]
    weights = [op[1] for op in operations]
    makers = {op[0]: op[2] for op in operations}
    limit = asyncio.Semaphore(concurrency)
    pending_events = sorted(events or [], key=lambda e: e[0])
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def one(name: str) -> None:
            body, headers, check = makers[name]()
            async with limit:
                started = time.perf_counter()
                try:
                    response = await client.post(url, json=body, headers=headers)
                    status = response.status_code
                    data = response.json() if response.content else {}
                except (httpx.HTTPError, ValueError):
                    status, data = 599, {}
                elapsed = time.perf_counter() - started
            errors = (data.get("errors") if isinstance(data, dict) else None) or []
            codes = tuple((e.get("extensions") or {}).get("code", "NO_CODE") for e in errors)
            ok = status == 200 and not errors and (check is None or check(data))
            load.outcomes.append(Outcome(name, status, elapsed, codes, ok, at=started - load_started))

        tasks = []
        actions = []
        started = load_started = time.perf_counter()
        n = 0
        loop = asyncio.get_running_loop()
        while (now := time.perf_counter() - started) < seconds:
            while pending_events and pending_events[0][0] <= now:
                _, action = pending_events.pop(0)
                actions.append(loop.run_in_executor(None, action))  # requests keep going out meanwhile
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(rng.choices(names, weights)[0])))
            n += 1
            if len(tasks) > 2000:
                await asyncio.gather(*tasks)
                tasks = []
        for _, action in pending_events:
            actions.append(loop.run_in_executor(None, action))
        await asyncio.gather(*tasks)
        await asyncio.gather(*actions)


def wait_until(predicate: Any, timeout: float, interval: float = 0.5) -> bool:
    """True once `predicate()` holds, False when `timeout` passed first (a figure, not a failure)."""
    try:
        return bool(_wait_until(predicate, timeout=timeout, interval=interval))
    except TimedOut:
        return False
