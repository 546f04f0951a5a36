"""Everything the services need before they start: PostgreSQL and Redis, databases, migrations, demo data."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable

from common.testing.net import port_open
from common.testing.polling import TimedOut, wait_until

from devtools.env import production_env, service_env
from devtools.manage import manage
from devtools.paths import say
from devtools.services import services

POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


def ensure_backing_services() -> None:
    """PostgreSQL and Redis normally run already on this machine kind; start them if they stopped."""
    for name, port, command in (("PostgreSQL", 5432, POSTGRES_START), ("Redis", 6379, REDIS_START)):
        if port_open(port, timeout=0.5):
            continue
        say(f"{name} is not running: starting it")
        subprocess.run(command, shell=True, check=False)  # noqa: S602 - fixed command from the platform notes
        try:
            wait_until(lambda p=port: port_open(p), timeout=30, what=name, interval=0.2)
        except TimedOut as error:
            raise SystemExit(f"[manage_all] {error}")


def ensure_databases(names: Iterable[str]) -> None:
    import psycopg

    admin_url = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        existing = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                say(f"creating database {name}")
                connection.execute(f'CREATE DATABASE "{name}"')


def drop_databases(suffix: str) -> None:
    """Drop every service's database named with `suffix` (the end-to-end tests start from empty ones)."""
    import psycopg

    admin_url = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        for service in services():
            connection.execute(f'DROP DATABASE IF EXISTS "{service["database"]}{suffix}" WITH (FORCE)')


def setup(*, production: bool = False) -> None:
    """Backing services, one database per service (named with DATABASE_NAME_SUFFIX), migrations, seeds;
    with `production`, collected static files and what production settings need provisioned (a signing key)."""
    ensure_backing_services()
    suffix = os.environ.get("DATABASE_NAME_SUFFIX", "")
    ensure_databases(s["database"] + suffix for s in services())
    for service in services():
        say(f"{service['name']}: migrate")
        manage(service, ["migrate", "--noinput", "-v", "0"])
        if service.get("seed"):
            manage(service, service["seed"])
        if production:
            prod_env = service_env(service, "prod", production_env())
            manage(service, ["collectstatic", "--noinput", "-v", "0"], env=prod_env)
            # What production settings never invent (the accounts' signing key): provisioned once here,
            # as a deployment's init job does (docs/operations.md).
            if service.get("provision_prod"):
                manage(service, service["provision_prod"], env=prod_env)
