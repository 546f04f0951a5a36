"""The production compose file runs every service of services.json the way manage_all.py does."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load() -> tuple[dict, list[dict]]:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    services = json.loads((ROOT / "services.json").read_text())["services"]
    return compose["services"], services


def test_every_service_has_migrations_web_and_workers_in_production_mode():
    containers, services = load()
    for service in services:
        name = service["name"]
        assert f"{name}-migrate" in containers, f"{name}: migrations must run before the service starts"
        assert "migrate --noinput" in " ".join(containers[f"{name}-migrate"]["command"])
        web = containers[name]
        assert web["environment"]["DJANGO_SETTINGS_MODULE"] == f"{service['settings']}.prod"
        assert web["environment"]["WSGI_APP"] == service["wsgi"]
        assert web["depends_on"][f"{name}-migrate"]["condition"] == "service_completed_successfully"
        workers = {"relay_outbox": "relay", "consume": "consumer", "expire_pending_orders": "expiry"}
        for worker in service.get("workers", []):
            command = worker.split()  # a manage.py command line, e.g. "expire_pending_orders --loop"
            container = containers[f"{name}-{workers[command[0]]}"]
            assert container["command"] == ["python", "manage.py", *command]


def test_the_gateway_knows_every_subgraph_and_stores_stay_private():
    containers, services = load()
    subgraph_urls = containers["gateway"]["environment"]["SUBGRAPH_URLS"]
    for service in services:
        if service.get("graphql_path"):
            assert f"--url {service['name']}=http://{service['name']}:8000{service['graphql_path']}" in subgraph_urls
    for store in ("postgres", "redis", "kafka"):
        assert "ports" not in containers[store], f"{store} must not be published"
    for name, container in containers.items():
        for port in container.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert containers["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
