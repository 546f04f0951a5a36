"""End-to-end fixtures: the real services and the real gateway, on free loopback ports.

One session brings every service from services.json up (databases named with the
DATABASE_NAME_SUFFIX of this checkout plus `_e2e`, migrated and seeded), composes a
supergraph from them into a temporary file and starts Hive Gateway in development mode.
Extra gateways (production mode, or in front of a recording proxy) share those services.
Everything is stopped at the end of the session. No Django settings are loaded here.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import manage_all  # noqa: E402 - the one place that knows how to start services and the gateway


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_names() -> set[str]:
    return {service["name"] for service in manage_all.services()}


def drop_databases(suffix: str) -> None:
    """Fresh end-to-end databases every session: schema changes (e.g. a swapped user model) never meet old rows."""
    import psycopg

    admin_url = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        for service in manage_all.services():
            connection.execute(f'DROP DATABASE IF EXISTS "{service["database"]}{suffix}" WITH (FORCE)')


class GraphQL:
    """A GraphQL-over-HTTP client for one endpoint; every answer is checked to be a clean non-5xx."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.http = httpx.Client(timeout=20, headers=headers or {})

    def post(self, query: str | None = None, variables: dict[str, Any] | None = None, *,
             headers: dict[str, str] | None = None, body: Any = None, **kwargs: Any) -> httpx.Response:
        payload = body if body is not None else {"query": query, "variables": variables or {}}
        response = self.http.post(self.url, json=payload, headers=headers or {}, **kwargs)
        assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
        return response

    def execute(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = self.post(query, variables, **kwargs)
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        body = self.execute(query, variables, **kwargs)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def error(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        body = self.execute(query, variables, **kwargs)
        assert body.get("errors"), body
        return body["errors"][0]

    def close(self) -> None:
        self.http.close()


@dataclass
class Platform:
    supervisor: manage_all.Supervisor
    services: dict[str, str]  # service name -> base URL
    subgraphs: dict[str, str]  # subgraph name -> GraphQL URL
    supergraph: Path
    gateway_url: str  # development-mode gateway base URL
    env: dict[str, str] = field(default_factory=dict)  # what every service and worker was started with
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
        # Services that keep their data in a Redis of their own (the cart) get one on a free port.
        extra_env.update(manage_all.start_service_redis(
            supervisor, ports={s["name"]: free_port() for s in manage_all.services() if s.get("redis")},
            data_root=tmp_path_factory.mktemp("service-redis"),
        ))
        services = manage_all.start_services(supervisor, ports=ports, extra_env=extra_env)
        subgraphs = manage_all.graphql_urls(services)
        supergraph = tmp_path_factory.mktemp("gateway") / "supergraph.graphql"
        assert manage_all.compose_supergraph(subgraphs, out=supergraph, check=False) == 0
        gateway_url = manage_all.start_gateway(supervisor, port=free_port(), supergraph=supergraph, name="e2e-gateway")
        platform = Platform(supervisor, services, subgraphs, supergraph, gateway_url, env=extra_env)
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
def event_backbone(platform: Platform) -> Iterator[str]:
    """A broker on a free port and every service's workers (relays, consumers), for tests whose
    data crosses services through events (e.g. the cart's product read model). Started on demand."""
    from common.events.broker import TansuBroker

    broker = TansuBroker().start()
    try:
        for service in manage_all.services():
            if service.get("workers"):
                manage_all.manage(service, ["create_topics"], env=manage_all.service_env(
                    service, extra={**platform.env, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}))
        manage_all.start_workers(platform.supervisor, broker=broker.bootstrap_servers, production=False,
                                 extra_env=platform.env)
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
    """Forwards to a subgraph and records each request's headers; can also play a crashing subgraph."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.requests: list[dict[str, str]] = []
        self.crash = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                proxy.requests.append({key.lower(): value for key, value in self.headers.items()})
                if proxy.crash:
                    self._answer(500, b"Traceback (most recent call last): secret internal detail", "text/plain")
                    return
                upstream = httpx.post(proxy.target, content=body, headers={"content-type": "application/json"})
                self._answer(upstream.status_code, upstream.content, upstream.headers.get("content-type", ""))

            def do_GET(self) -> None:
                if proxy.crash:
                    self._answer(500, b"Internal Server Error", "text/plain")
                    return
                upstream = httpx.get(httpx.URL(proxy.target).join(self.path))
                self._answer(upstream.status_code, upstream.content, upstream.headers.get("content-type", ""))

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/graphql/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def catalog_proxy(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingProxy, str]]:
    """(proxy, production gateway URL) with the catalog subgraph reached through the proxy."""
    proxy = RecordingProxy(platform.subgraphs["catalog"])
    supergraph = tmp_path_factory.mktemp("proxied") / "supergraph.graphql"
    supergraph.write_text(platform.supergraph.read_text().replace(f'"{platform.subgraphs["catalog"]}"', f'"{proxy.url}"'))
    assert proxy.url in supergraph.read_text()
    url = platform.start_gateway("e2e-gateway-proxied", production=True, supergraph=supergraph)
    yield proxy, url
    proxy.close()

