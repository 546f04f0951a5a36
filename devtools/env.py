"""The environment a service process runs with: its settings module, the running broker, production secrets."""

from __future__ import annotations

import os
import secrets

from common.testing.net import port_open

from devtools.paths import LOG_DIR
from devtools.services import Service

BROKER_ADDRESS_FILE = LOG_DIR / "broker.addr"  # written by `broker`/`up`: other commands find the broker there


def running_broker_address() -> str | None:
    """The development broker started by `manage_all.py broker|up`, if it is still running."""
    if not BROKER_ADDRESS_FILE.exists():
        return None
    address = BROKER_ADDRESS_FILE.read_text().strip()
    host, _, port = address.rpartition(":")
    return address if port.isdigit() and port_open(int(port), host) else None


def service_env(service: Service, environment: str = "dev", extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ plus the service's settings module (`<settings>.dev|prod`) and the running broker."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", f"{service['settings']}.{environment}")
    broker = running_broker_address()
    if broker and "KAFKA_BOOTSTRAP_SERVERS" not in env:
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def production_env(*, loopback: bool = True) -> dict[str, str]:
    """What production settings need on a workstation (`up --prod`, `check --deploy`): a generated secret
    key kept in .run/ unless one is given; with `loopback`, cookies that plain http can carry."""
    LOG_DIR.mkdir(exist_ok=True)
    key_file = LOG_DIR / "django-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    env = {"DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", key_file.read_text())}
    if loopback:  # plain http on loopback: secure-only cookies would make the admin unusable here
        env["DJANGO_SECURE_COOKIES"] = os.environ.get("DJANGO_SECURE_COOKIES", "false")
    return env
