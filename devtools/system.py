"""The commands that run the platform: `up`, `broker` and `compose`."""

from __future__ import annotations

import sys

from common.testing.net import port_open

from devtools.bootstrap import setup
from devtools.broker import forget_broker, start_broker
from devtools.env import production_env
from devtools.gateway import compose_supergraph, ensure_gateway_dependencies, start_gateway
from devtools.paths import say
from devtools.servers import start_services, start_workers
from devtools.service_redis import start_service_redis
from devtools.services import gateway_port, graphql_urls, services, subgraphs
from devtools.supervisor import Supervisor, stop_on_signals, supervise_until_interrupted


def up(*, production: bool = False) -> int:
    """Set everything up and run it until Ctrl-C: broker, services, workers, gateway."""
    stop_on_signals()
    ensure_gateway_dependencies()
    setup(production=production)
    supervisor = Supervisor()
    try:
        kafka = start_broker(supervisor)
        extra_env = {"KAFKA_BOOTSTRAP_SERVERS": kafka, **(production_env() if production else {})}
        extra_env.update(start_service_redis(supervisor))
        urls = start_services(supervisor, production=production, extra_env=extra_env)
        start_workers(supervisor, broker=kafka, production=production, extra_env=extra_env)
        compose_supergraph(graphql_urls(urls))
        gateway = start_gateway(supervisor, port=gateway_port(), production=production)
        print_urls(gateway, urls, kafka, production=production)
        supervise_until_interrupted(supervisor)
    finally:
        supervisor.stop()
        forget_broker()
    return 0


def print_urls(gateway: str, urls: dict[str, str], kafka: str, *, production: bool) -> None:
    ide = " (GraphiQL in a browser)" if not production else ""
    print()
    say("the platform is up (Ctrl-C stops it; logs in .run/):")
    print(f"  {'gateway':<10} GraphQL  {gateway}/graphql{ide}   <- API clients use this")
    print(f"  {'':<10} health   {gateway}/health")
    for service in services():
        base = urls[service["name"]]
        print(f"  {service['name']:<10} GraphQL  {base}{service['graphql_path']}{ide}")
        print(f"  {'':<10} admin    {base}/admin/")
        print(f"  {'':<10} health   {base}/health/")
        for worker in service.get("workers", []):
            print(f"  {'':<10} worker   manage.py {worker} (log .run/{service['name']}-{worker.split()[0]}.log)")
        if service.get("redis"):
            redis = service["redis"]
            print(f"  {'':<10} redis    127.0.0.1:{redis['port']} (AOF in {redis['dir']}/, log .run/{service['name']}-redis.log)")
    print(f"  {'broker':<10} kafka    {kafka} (Tansu, in memory: a restart forgets every event)")
    sys.stdout.flush()


def broker() -> int:
    """Run only the development broker until Ctrl-C."""
    stop_on_signals()
    supervisor = Supervisor()
    try:
        address = start_broker(supervisor)
        say(f"broker (Tansu, in memory) on {address}; Ctrl-C stops it and forgets every event")
        say(f"point services at it with KAFKA_BOOTSTRAP_SERVERS={address} (manage_all.py commands do it for you)")
        supervise_until_interrupted(supervisor)
    finally:
        supervisor.stop()
        forget_broker()
    return 0


def compose() -> int:
    """Compose gateway/supergraph.graphql from the running subgraphs; start them for the occasion when they are not."""
    ensure_gateway_dependencies()
    if all(port_open(s["port"]) for s in subgraphs()):
        return compose_supergraph(check=False)
    stop_on_signals()
    setup()
    supervisor = Supervisor()
    try:
        say("starting the services to read their schemas")
        start_services(supervisor, only=[s["name"] for s in subgraphs()])
        return compose_supergraph(check=False)
    finally:
        supervisor.stop()
