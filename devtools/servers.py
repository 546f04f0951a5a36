"""The services' web servers (runserver in development, gunicorn in production) and their workers."""

from __future__ import annotations

from common.testing.net import port_open

from devtools.env import service_env
from devtools.paths import ROOT, VENV_BIN, VENV_PYTHON
from devtools.services import Service, services
from devtools.supervisor import Supervisor


def service_command(service: Service, port: int, *, production: bool) -> list[str]:
    if production:
        return [str(VENV_BIN / "gunicorn"), service["wsgi"], "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
                "--bind", f"127.0.0.1:{port}"]
    return [str(VENV_PYTHON), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]


def start_services(supervisor: Supervisor, *, production: bool = False, ports: dict[str, int] | None = None,
                   extra_env: dict[str, str] | None = None, only: list[str] | None = None) -> dict[str, str]:
    """Start every service (or those named in `only`); returns {name: base URL} once each accepts connections."""
    urls = {}
    for service in services():
        if only is not None and service["name"] not in only:
            continue
        port = (ports or {}).get(service["name"], service["port"])
        env = service_env(service, "prod" if production else "dev", extra_env)
        supervisor.start(service["name"], service_command(service, port, production=production),
                         cwd=ROOT / service["project"], env=env)
        urls[service["name"]] = f"http://127.0.0.1:{port}"
    for name, url in urls.items():
        port = int(url.rsplit(":", 1)[1])
        supervisor.wait_ready(lambda p=port: port_open(p), timeout=60, what=f"{name} on {url}")
    return urls


def start_workers(supervisor: Supervisor, *, broker: str, production: bool, extra_env: dict[str, str] | None = None) -> None:
    """Long-running manage.py commands of each service (services.json "workers": outbox relay, consumer)."""
    for service in services():
        env = service_env(service, "prod" if production else "dev", {**(extra_env or {}), "KAFKA_BOOTSTRAP_SERVERS": broker})
        for worker in service.get("workers", []):
            # A worker is a manage.py command line, e.g. "expire_pending_orders --loop".
            name, *arguments = worker.split()
            supervisor.start(f"{service['name']}-{name}", [str(VENV_PYTHON), "manage.py", name, *arguments],
                             cwd=ROOT / service["project"], env=env)
