"""End-to-end fixtures: the real services and the real gateway, on free loopback ports.

One session brings every service from services.json up (databases named with the
DATABASE_NAME_SUFFIX of this checkout plus `_e2e`, migrated and seeded), composes a
supergraph from them into a temporary file and starts Hive Gateway in development mode.
Extra gateways (production mode, or in front of a recording proxy) share those services.
Everything is stopped at the end of the session. No Django settings are loaded here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from common.testing.graphql import GraphQLHttpClient
from common.testing.net import free_port
from common.testing.stub_server import Reply, Request, StubServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import manage_all  # noqa: E402 - the one place that knows how to start services and the gateway


def service_names() -> set[str]:
    return {service["name"] for service in manage_all.services()}


def drop_databases(suffix: str) -> None:
    """Fresh end-to-end databases every session: schema changes (e.g. a swapped user model) never meet old rows."""
    import psycopg

    admin_url = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        for service in manage_all.services():
            connection.execute(f'DROP DATABASE IF EXISTS "{service["database"]}{suffix}" WITH (FORCE)')


GraphQL = GraphQLHttpClient  # the name the cross-service tests use in type hints


@dataclass
class Platform:
    supervisor: manage_all.Supervisor
    services: dict[str, str]  # service name -> base URL
    subgraphs: dict[str, str]  # subgraph name -> GraphQL URL
    supergraph: Path
    gateway_url: str  # development-mode gateway base URL
    clients: list[GraphQL] = field(default_factory=list)

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
        return manage_all.start_gateway(self.supervisor, port=free_port(), production=production,
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
    manage_all.ensure_gateway_dependencies()
    manage_all.ensure_backing_services()
    drop_databases(os.environ["DATABASE_NAME_SUFFIX"])
    manage_all.setup()
    supervisor = manage_all.Supervisor()
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
    try:
        services = manage_all.start_services(supervisor, ports=ports, extra_env=extra_env)
        subgraphs = manage_all.graphql_urls(services)
        supergraph = tmp_path_factory.mktemp("gateway") / "supergraph.graphql"
        assert manage_all.compose_supergraph(subgraphs, out=supergraph, check=False) == 0
        gateway_url = manage_all.start_gateway(supervisor, port=free_port(), supergraph=supergraph, name="e2e-gateway")
        platform = Platform(supervisor, services, subgraphs, supergraph, gateway_url)
        yield platform
    finally:
        for client in platform.clients if platform else []:
            client.close()
        supervisor.stop()
        if saved_suffix is None:
            os.environ.pop("DATABASE_NAME_SUFFIX", None)
        else:
            os.environ["DATABASE_NAME_SUFFIX"] = saved_suffix


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
            upstream = httpx.post(self.target, content=request.body, headers={"content-type": "application/json"})
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

