"""End-to-end fixtures: the real services and the real gateway, on free loopback ports.

One session brings every service from services.json up (databases named with the
DATABASE_NAME_SUFFIX of this checkout plus `_e2e`, migrated and seeded), composes a
supergraph from them into a temporary file and starts Hive Gateway in development mode.
Extra gateways (production mode, or in front of a recording proxy) share those services.
Everything is stopped at the end of the session. No Django settings are loaded here.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from common.testing.graphql import GraphQLHttpClient
from common.testing.net import free_port
from common.testing.stub_server import Reply, Request, StubServer

# What `manage_all.py up` uses, here on free ports (the repository root is on pytest's pythonpath).
from devtools import bootstrap, services
from devtools.env import service_env
from devtools.gateway import compose_supergraph, ensure_gateway_dependencies, start_gateway
from devtools.manage import manage
from devtools.paths import ROOT, VENV_PYTHON
from devtools.servers import start_services, start_workers
from devtools.service_redis import start_private_shared_redis, start_service_redis
from devtools.supervisor import Supervisor


def service_names() -> set[str]:
    return set(services.service_names())


GraphQL = GraphQLHttpClient  # the name the cross-service tests use in type hints


@dataclass
class Platform:
    supervisor: Supervisor
    services: dict[str, str]  # service name -> base URL
    subgraphs: dict[str, str]  # subgraph name -> GraphQL URL
    supergraph: Path
    gateway_url: str  # development-mode gateway base URL
    env: dict[str, str] = field(default_factory=dict)  # what every service and worker was started with
    clients: list[GraphQL] = field(default_factory=list)
    broker: str | None = None  # set once `event_backbone` started the broker and the workers

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker (e.g. "catalog-consume"): no graceful stop, nothing committed on the way out."""
        process = self.supervisor.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def start_worker(self, service_name: str, worker: str, *, broker: str) -> None:
        """(Re)start one worker of services.json, as `event_backbone` started it."""
        service = next(s for s in services.services() if s["name"] == service_name)
        env = service_env(service, extra={**self.env, "KAFKA_BOOTSTRAP_SERVERS": broker})
        name, *arguments = worker.split()
        self.supervisor.start(f"{service_name}-{name}", [str(VENV_PYTHON), "manage.py", name, *arguments],
                              cwd=ROOT / service["project"], env=env)

    @contextmanager
    def workers_stopped(self) -> Iterator[None]:
        """No worker writes meanwhile (tests that count rows): the running relays, consumers and loops
        get SIGTERM (each finishes its batch), and are started again afterwards."""
        stopped = []
        for service in services.services():
            for worker in service.get("workers", []):
                process = self.supervisor.processes.get(f"{service['name']}-{worker.split()[0]}")
                if process is not None and process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
                    stopped.append((service["name"], worker, process))
        try:
            for _, _, process in stopped:
                process.wait(timeout=30)
            yield
        finally:
            for service_name, worker, _ in stopped:
                assert self.broker is not None
                self.start_worker(service_name, worker, broker=self.broker)

    def client(self, base_url: str | None = None, path: str = "/graphql", **headers: str) -> GraphQL:
        client = GraphQL((base_url or self.gateway_url) + path, headers)
        self.clients.append(client)
        return client

    def subgraph(self, name: str) -> GraphQL:
        client = GraphQL(self.subgraphs[name])
        self.clients.append(client)
        return client

    def start_gateway(self, name: str, *, production: bool, supergraph: Path | None = None,
                      extra_env: dict[str, str] | None = None) -> str:
        return start_gateway(self.supervisor, port=free_port(), production=production,
                             supergraph=supergraph or self.supergraph, name=name, extra_env=extra_env)

    def proxied_gateway(self, name: str, directory: Path, *, subgraph: str = "catalog",
                        **env: str) -> tuple[RecordingProxy, str]:
        """A production gateway whose calls to `subgraph` go through a RecordingProxy (own supergraph file)."""
        proxy = RecordingProxy(self.subgraphs[subgraph])
        supergraph = directory / "supergraph.graphql"
        supergraph.write_text(self.supergraph.read_text().replace(f'"{self.subgraphs[subgraph]}"', f'"{proxy.url}"'))
        assert proxy.url in supergraph.read_text()
        return proxy, self.start_gateway(name, production=True, supergraph=supergraph, extra_env=env)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    saved_suffix = os.environ.get("DATABASE_NAME_SUFFIX")
    # Own databases: end-to-end data never mixes with this checkout's development data.
    os.environ["DATABASE_NAME_SUFFIX"] = (saved_suffix or "") + "_e2e"
    ensure_gateway_dependencies()
    bootstrap.ensure_backing_services()
    # Fresh end-to-end databases every session: schema changes (e.g. a swapped user model) never meet old rows.
    bootstrap.drop_databases(os.environ["DATABASE_NAME_SUFFIX"])
    bootstrap.setup()
    supervisor = Supervisor()
    ports = {name: free_port() for name in service_names()}
    extra_env = {}
    if "accounts" in ports:
        extra_env.update({
            # Every service verifies tokens against this run's accounts JWKS.
            "AUTH_JWKS_URL": f"http://127.0.0.1:{ports['accounts']}/.well-known/jwks.json",
            # Accounts sits behind one proxy (the gateway), which appends the caller's address.
            "ACCOUNTS_TRUSTED_PROXY_COUNT": "1",
            # Every test client calls from 127.0.0.1: don't let repeated runs hit the registration limit.
            "ACCOUNTS_REGISTRATIONS_PER_IP": "10000",
        })
    platform = None
    saved_redis = {name: os.environ.get(name) for name in ("REDIS_URL", "AUTH_REGISTRY_REDIS_URL")}
    try:
        # A Redis of the run's own for caches, sessions and the gateway's response cache (set in os.environ
        # too, for every process started later: workers, extra gateways, manage commands).
        shared_redis = start_private_shared_redis(supervisor, port=free_port())
        os.environ.update(shared_redis)
        extra_env.update(shared_redis)
        # Services that keep their data in a Redis of their own (the cart) get one on a free port.
        extra_env.update(start_service_redis(
            supervisor, ports={s["name"]: free_port() for s in services.services() if s.get("redis")},
            data_root=tmp_path_factory.mktemp("service-redis"),
        ))
        base_urls = start_services(supervisor, ports=ports, extra_env=extra_env)
        subgraphs = services.graphql_urls(base_urls)
        supergraph = tmp_path_factory.mktemp("gateway") / "supergraph.graphql"
        assert compose_supergraph(subgraphs, out=supergraph, check=False) == 0
        gateway_url = start_gateway(supervisor, port=free_port(), supergraph=supergraph, name="e2e-gateway")
        platform = Platform(supervisor, base_urls, subgraphs, supergraph, gateway_url, env=extra_env)
        yield platform
    finally:
        for client in platform.clients if platform else []:
            client.close()
        supervisor.stop()
        for name, value in saved_redis.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if saved_suffix is None:
            os.environ.pop("DATABASE_NAME_SUFFIX", None)
        else:
            os.environ["DATABASE_NAME_SUFFIX"] = saved_suffix


@pytest.fixture(scope="session")
def event_backbone(platform: Platform) -> Iterator[str]:
    """A broker on a free port and every service's workers (relays, consumers), for tests whose
    data crosses services through events (e.g. the cart's product read model). Started on demand."""
    from common.events.broker import TansuBroker

    broker = TansuBroker().start()
    try:
        for service in services.services():
            if service.get("workers"):
                manage(service, ["create_topics"], env=service_env(
                    service, extra={**platform.env, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}))
        start_workers(platform.supervisor, broker=broker.bootstrap_servers, production=False, extra_env=platform.env)
        platform.broker = broker.bootstrap_servers
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def gateway(platform: Platform) -> GraphQL:
    """The development-mode gateway's GraphQL endpoint."""
    return platform.client()


@pytest.fixture(scope="session")
def prod_gateway_url(platform: Platform) -> str:
    return platform.start_gateway("e2e-gateway-prod", production=True)


@pytest.fixture(scope="session")
def prod_gateway(platform: Platform, prod_gateway_url: str) -> GraphQL:
    return platform.client(prod_gateway_url)


# --- a recording proxy in front of one subgraph --------------------------------------------------


class RecordingProxy:
    """A StubServer that forwards to a subgraph and records each request's headers (lower-case names);
    `crash = True` makes it play a crashing subgraph."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.crash = False
        self.server = StubServer(self._forward, name="recording-proxy")
        self.url = self.server.url("/graphql/")

    @property
    def requests(self) -> list[dict[str, str]]:
        return [request.headers for request in self.server.requests if request.method == "POST"]

    def _forward(self, request: Request) -> Reply:
        if self.crash:
            if request.method == "POST":
                return Reply(500, b"Traceback (most recent call last): secret internal detail", "text/plain")
            return Reply(500, b"Internal Server Error", "text/plain")
        if request.method == "POST":
            # The token goes on (the subgraph verifies it); the other headers are only recorded.
            forwarded = {"content-type": "application/json"}
            if request.headers.get("authorization"):
                forwarded["authorization"] = request.headers["authorization"]
            upstream = httpx.post(self.target, content=request.body, headers=forwarded)
        else:
            upstream = httpx.get(httpx.URL(self.target).join(request.path))
        return Reply(upstream.status_code, upstream.content, upstream.headers.get("content-type", ""))

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="session")
def catalog_proxy(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingProxy, str]]:
    """(proxy, production gateway URL) with the catalog subgraph reached through the proxy."""
    proxy, url = platform.proxied_gateway("e2e-gateway-proxied", tmp_path_factory.mktemp("proxied"))
    yield proxy, url
    proxy.close()

