"""A service's own persistent redis-server (services.json "redis", e.g. the cart keeps its data there),
unlike the shared Redis of caches and sessions."""

from __future__ import annotations

import os
from pathlib import Path

from common.testing.net import port_open

from devtools.paths import ROOT
from devtools.services import services
from devtools.supervisor import Supervisor


def start_service_redis(supervisor: Supervisor, *, ports: dict[str, int] | None = None,
                        data_root: Path | None = None) -> dict[str, str]:
    """Start the redis-server of every service that declares one: persistent (AOF, appendfsync everysec)
    on its own port, data under its "dir" (or `data_root`/<name>-redis). Returns the settings that
    point the services at them, e.g. {"CART_REDIS_URL": "redis://127.0.0.1:6390/0"}."""
    settings = {}
    for service in services():
        spec = service.get("redis")
        if not spec:
            continue
        name = service["name"]
        port = (ports or {}).get(name, spec["port"])
        data_dir = (data_root / f"{name}-redis") if data_root else ROOT / spec["dir"]
        data_dir.mkdir(parents=True, exist_ok=True)
        if port_open(port):
            raise SystemExit(f"[manage_all] port {port} for the {name} Redis is taken (another `up`?)")
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--save", "",
                   "--appendonly", "yes" if spec.get("appendonly", True) else "no", "--appendfsync", "everysec"]
        supervisor.start(f"{name}-redis", command, cwd=ROOT, env=dict(os.environ))
        supervisor.wait_ready(lambda p=port: port_open(p), timeout=30, what=f"the {name} Redis on port {port}")
        settings[spec["url_setting"]] = f"redis://127.0.0.1:{port}/0"
    return settings


def start_private_shared_redis(supervisor: Supervisor, *, port: int, name: str = "shared-redis") -> dict[str, str]:
    """A throw-away stand-in for the shared Redis (caches, session registry, the gateway's response
    cache) on its own port, for a test or bench platform: on the machine's 6379 another checkout's
    platform, with the same seeded ids and key prefixes, would answer this one's cache misses.
    Returns the settings that point services, workers and gateways at it."""
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    supervisor.start(name, command, cwd=ROOT, env=dict(os.environ))
    supervisor.wait_ready(lambda: port_open(port), timeout=30, what=f"the private Redis on port {port}")
    url = f"redis://127.0.0.1:{port}/0"
    return {"REDIS_URL": url, "AUTH_REGISTRY_REDIS_URL": url}
