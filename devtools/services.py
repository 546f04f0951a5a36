"""Service discovery: services.json is the one list of services and subgraphs (no name is known here)."""

from __future__ import annotations

import json
from typing import Any

from devtools.paths import SERVICES_FILE

Service = dict[str, Any]


def load_config() -> dict[str, Any]:
    return json.loads(SERVICES_FILE.read_text())


def services() -> list[Service]:
    return load_config()["services"]


def service_names() -> list[str]:
    return [service["name"] for service in services()]


def select(names: list[str] | None) -> list[Service]:
    """The services named (all when `names` is empty or None); an unknown name is a ValueError."""
    listed = services()
    if not names:
        return listed
    unknown = sorted(set(names) - {service["name"] for service in listed})
    if unknown:
        raise ValueError(f"not in services.json: {', '.join(unknown)} (services: {', '.join(service_names())})")
    return [service for service in listed if service["name"] in names]


def subgraphs() -> list[Service]:
    """Services the gateway composes: those serving GraphQL, unless marked `"subgraph": false`."""
    return [s for s in services() if s.get("subgraph", bool(s.get("graphql_path")))]


def graphql_urls(base_urls: dict[str, str]) -> dict[str, str]:
    """{subgraph name: GraphQL URL} from {service name: base URL}."""
    return {s["name"]: base_urls[s["name"]] + s["graphql_path"] for s in subgraphs()}


def gateway_port() -> int:
    return int(load_config()["gateway"]["port"])


def broker_port() -> int:
    """The port the development broker prefers (0: any free port)."""
    return int(load_config().get("broker", {}).get("port", 0))
