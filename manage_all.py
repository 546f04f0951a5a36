#!/usr/bin/env python3
"""One entry point for the whole platform.

    python3 manage_all.py up [--prod]        set up everything and run the system (Ctrl-C stops it): broker,
                                             services, one outbox relay and one consumer per service, gateway
    python3 manage_all.py compose            compose gateway/supergraph.graphql from the running subgraphs
    python3 manage_all.py broker             run only the development Kafka broker (Tansu, in memory)
    python3 manage_all.py test               run the whole test suite (what CI runs)
    python3 manage_all.py setup              virtualenv, requirements, databases, migrations, demo data
    python3 manage_all.py services           list the services from services.json
    python3 manage_all.py <command> [args]   run `manage.py <command> [args]` in every service
                                             (e.g. migrate, check, showmigrations)

It runs with the system python3 first, creates `.venv` and re-executes itself inside it.
Only the standard library is used before that point.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
REQUIREMENTS = [ROOT / "requirements" / "dev.txt", ROOT / "requirements" / "base.txt", ROOT / "common" / "pyproject.toml"]
STAMP = VENV / ".requirements.sha256"
LOG_DIR = ROOT / ".run"
BROKER_ADDRESS_FILE = LOG_DIR / "broker.addr"  # lets other manage_all commands find a running broker
GATEWAY_DIR = ROOT / "gateway"

POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


def say(message: str) -> None:
    print(f"[manage_all] {message}", flush=True)


def load_config() -> dict[str, Any]:
    return json.loads((ROOT / "services.json").read_text())


def services() -> list[dict[str, Any]]:
    return load_config()["services"]


# --- bootstrap ---------------------------------------------------------------------------------


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_virtualenv() -> None:
    """Create .venv and install the pinned requirements when they changed, then re-exec inside it."""
    if not VENV_PYTHON.exists():
        say("creating virtualenv .venv")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    digest = _requirements_digest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        say("installing pinned requirements (first run takes a minute)")
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-r", str(ROOT / "requirements" / "dev.txt"), "-e", str(ROOT / "common")], check=True)
        STAMP.write_text(digest)
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])  # noqa: S606


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate: Any, *, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit(f"[manage_all] timed out after {timeout:.0f}s waiting for {what}")


def ensure_backing_services() -> None:
    """PostgreSQL and Redis normally run already on this machine kind; start them if they stopped."""
    for name, port, command in (("PostgreSQL", 5432, POSTGRES_START), ("Redis", 6379, REDIS_START)):
        if port_open("127.0.0.1", port):
            continue
        say(f"{name} is not running: starting it")
        subprocess.run(command, shell=True, check=False)  # noqa: S602 - fixed command from the platform notes
        wait_for(lambda p=port: port_open("127.0.0.1", p), timeout=30, what=name)


def ensure_databases(names: Iterable[str]) -> None:
    import psycopg  # available once inside the virtualenv

    admin_url = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        existing = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                say(f"creating database {name}")
                connection.execute(f'CREATE DATABASE "{name}"')


# --- running manage.py -------------------------------------------------------------------------


def service_env(service: dict[str, Any], environment: str = "dev", extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", f"{service['settings']}.{environment}")
    broker = running_broker_address()
    if broker and "KAFKA_BOOTSTRAP_SERVERS" not in env:
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def manage(service: dict[str, Any], args: list[str], *, check: bool = True, env: dict[str, str] | None = None) -> int:
    project = ROOT / service["project"]
    result = subprocess.run(
        [str(VENV_PYTHON), "manage.py", *args], cwd=project, env=env or service_env(service), check=False
    )
    if check and result.returncode:
        raise SystemExit(f"[manage_all] {service['name']}: manage.py {' '.join(args)} failed ({result.returncode})")
    return result.returncode


def running_broker_address() -> str | None:
    """The development broker started by `manage_all.py broker|up`, if it is still running."""
    if not BROKER_ADDRESS_FILE.exists():
        return None
    address = BROKER_ADDRESS_FILE.read_text().strip()
    host, _, port = address.rpartition(":")
    return address if port.isdigit() and port_open(host, int(port)) else None


def setup(*, production: bool = False) -> None:
    ensure_backing_services()
    suffix = os.environ.get("DATABASE_NAME_SUFFIX", "")
    ensure_databases(s["database"] + suffix for s in services())
    for service in services():
        say(f"{service['name']}: migrate")
        manage(service, ["migrate", "--noinput", "-v", "0"])
        if service.get("seed"):
            manage(service, service["seed"])
        if production:
            manage(service, ["collectstatic", "--noinput", "-v", "0"], env=service_env(service, "prod", production_env()))


# --- running the system ------------------------------------------------------------------------


class Supervisor:
    """Starts long-running processes, each logging to .run/<name>.log, and stops them all together."""

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        LOG_DIR.mkdir(exist_ok=True)

    def start(self, name: str, command: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (LOG_DIR / f"{name}.log").open("ab")
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SystemExit(f"[manage_all] {name} exited with {process.returncode}; see .run/{name}.log")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def service_command(service: dict[str, Any], port: int, *, production: bool) -> list[str]:
    if production:
        return [
            str(VENV / "bin" / "gunicorn"),
            service["wsgi"],
            "--config",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
        ]
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

        def ready(p: int = port) -> bool:
            supervisor.check_alive()
            return port_open("127.0.0.1", p)

        wait_for(ready, timeout=60, what=f"{name} on {url}")
    return urls


def start_service_redis(supervisor: Supervisor, *, ports: dict[str, int] | None = None,
                        data_root: Path | None = None) -> dict[str, str]:
    """Start the redis-server a service keeps its data in (services.json "redis", e.g. the cart's):
    persistent (AOF, appendfsync everysec) on its own port, data under .run/ (or `data_root`).
    Returns the settings that point the service at it, e.g. {"CART_REDIS_URL": "redis://..."}."""
    settings = {}
    for service in services():
        spec = service.get("redis")
        if not spec:
            continue
        name = service["name"]
        port = (ports or {}).get(name, spec["port"])
        data_dir = (data_root / f"{name}-redis") if data_root else ROOT / spec["dir"]
        data_dir.mkdir(parents=True, exist_ok=True)
        if port_open("127.0.0.1", port):
            raise SystemExit(f"[manage_all] port {port} for the {name} Redis is taken (another `up`?)")
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--save", "",
                   "--appendonly", "yes" if spec.get("appendonly", True) else "no", "--appendfsync", "everysec"]
        process = supervisor.start(f"{name}-redis", command, cwd=ROOT, env=dict(os.environ))

        def ready(p: int = port, proc: subprocess.Popen[bytes] = process, n: str = name) -> bool:
            if proc.poll() is not None:
                raise SystemExit(f"[manage_all] the {n} Redis exited with {proc.returncode}; see .run/{n}-redis.log")
            return port_open("127.0.0.1", p)

        wait_for(ready, timeout=30, what=f"the {name} Redis on port {port}")
        settings[spec["url_setting"]] = f"redis://127.0.0.1:{port}/0"
    return settings


def production_env() -> dict[str, str]:
    """`up --prod` on a workstation: a generated secret key kept in .run/ unless one is given."""
    LOG_DIR.mkdir(exist_ok=True)
    key_file = LOG_DIR / "django-secret-key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    # Plain http on loopback: secure-only cookies would make the admin unusable here.
    return {
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", key_file.read_text()),
        "DJANGO_SECURE_COOKIES": os.environ.get("DJANGO_SECURE_COOKIES", "false"),
    }


def stop_on_signals() -> None:
    """SIGTERM and SIGINT act like Ctrl-C (SIGINT too when started in the background, where it is ignored),
    so the processes we started are always stopped with us."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def start_broker(supervisor: Supervisor) -> str:
    """Start the in-memory development broker (Tansu) on loopback and create every service's topics."""
    from common.events.broker import broker_command, free_port  # installed in the virtualenv

    preferred = int(load_config().get("broker", {}).get("port", 0))
    port = preferred if preferred and not port_open("127.0.0.1", preferred) else free_port()
    process = supervisor.start("broker", broker_command(port), cwd=ROOT, env=dict(os.environ))

    def ready() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"[manage_all] the broker exited with {process.returncode}; see .run/broker.log")
        return port_open("127.0.0.1", port)

    wait_for(ready, timeout=30, what="the broker")
    address = f"127.0.0.1:{port}"
    BROKER_ADDRESS_FILE.write_text(address)
    for service in services():
        if service.get("workers"):
            manage(service, ["create_topics"], env=service_env(service, extra={"KAFKA_BOOTSTRAP_SERVERS": address}))
    return address


def start_workers(supervisor: Supervisor, *, broker: str, production: bool, extra_env: dict[str, str] | None = None) -> None:
    """Long-running manage.py commands of each service (services.json "workers": outbox relay, consumer)."""
    for service in services():
        env = service_env(service, "prod" if production else "dev", {**(extra_env or {}), "KAFKA_BOOTSTRAP_SERVERS": broker})
        for worker in service.get("workers", []):
            supervisor.start(f"{service['name']}-{worker}", [str(VENV_PYTHON), "manage.py", worker],
                             cwd=ROOT / service["project"], env=env)


def supervise_until_interrupted(supervisor: Supervisor) -> None:
    """Block until Ctrl-C/SIGTERM; exits with an error as soon as one of the processes dies."""
    try:
        while True:
            supervisor.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        say("stopping")


def broker(args: list[str]) -> int:
    stop_on_signals()
    supervisor = Supervisor()
    try:
        address = start_broker(supervisor)
        say(f"broker (Tansu, in memory) on {address}; Ctrl-C stops it and forgets every event")
        say(f"point services at it with KAFKA_BOOTSTRAP_SERVERS={address} (manage_all.py commands do it for you)")
        supervise_until_interrupted(supervisor)
    finally:
        supervisor.stop()
        BROKER_ADDRESS_FILE.unlink(missing_ok=True)
    return 0


# --- gateway -----------------------------------------------------------------------------------


def subgraphs() -> list[dict[str, Any]]:
    """Services the gateway composes: those serving GraphQL, unless marked `"subgraph": false`."""
    return [s for s in services() if s.get("subgraph", bool(s.get("graphql_path")))]


def ensure_gateway_dependencies() -> None:
    """`npm ci` in gateway/ when node_modules is missing or older than package-lock.json."""
    lock = GATEWAY_DIR / "package-lock.json"
    stamp = GATEWAY_DIR / "node_modules" / ".package-lock.sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    say("gateway: npm ci (first run takes a minute)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=GATEWAY_DIR, check=True)
    stamp.write_text(digest)


def compose_supergraph(urls: dict[str, str] | None = None, *, out: Path | None = None, check: bool = True) -> int:
    """Run gateway/compose.mjs; `urls` maps a subgraph name to its GraphQL URL (default: services.json ports)."""
    command = ["node", "compose.mjs"]
    for name, url in (urls or {}).items():
        command += ["--url", f"{name}={url}"]
    if out is not None:
        command += ["--out", str(out)]
    code = subprocess.run(command, cwd=GATEWAY_DIR).returncode
    if check and code:
        raise SystemExit(f"[manage_all] composition failed (exit {code}); the gateway was not started")
    return code


def graphql_urls(base_urls: dict[str, str]) -> dict[str, str]:
    """{subgraph name: GraphQL URL} from start_services' {service name: base URL}."""
    return {s["name"]: base_urls[s["name"]] + s["graphql_path"] for s in subgraphs()}


def start_gateway(supervisor: Supervisor, *, port: int, production: bool = False, supergraph: Path | None = None,
                  name: str = "gateway", extra_env: dict[str, str] | None = None) -> str:
    """Start Hive Gateway on 127.0.0.1:<port>; returns its base URL once /readiness answers."""
    import urllib.request

    env = dict(os.environ)
    env.update({"NODE_ENV": "production" if production else "development", "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(port)})
    if supergraph is not None:
        env["GATEWAY_SUPERGRAPH"] = str(supergraph)
    env.update(extra_env or {})
    supervisor.start(name, ["node", "start.mjs"], cwd=GATEWAY_DIR, env=env)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        supervisor.check_alive()
        try:
            with urllib.request.urlopen(f"{base}/readiness", timeout=1) as response:  # noqa: S310 - loopback URL
                return response.status == 200
        except OSError:
            return False

    wait_for(ready, timeout=60, what=f"{name} on {base}")
    return base


def compose(args: list[str]) -> int:
    """Compose from the running subgraphs; start them for the occasion when they are not running."""
    ensure_gateway_dependencies()
    if all(port_open("127.0.0.1", s["port"]) for s in subgraphs()):
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


def up(args: list[str]) -> int:
    production = "--prod" in args
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
        gateway = start_gateway(supervisor, port=load_config()["gateway"]["port"], production=production)
        print()
        say("the platform is up (Ctrl-C stops it; logs in .run/):")
        ide = " (GraphiQL in a browser)" if not production else ""
        print(f"  {'gateway':<10} GraphQL  {gateway}/graphql{ide}   <- API clients use this")
        print(f"  {'':<10} health   {gateway}/health")
        for service in services():
            base = urls[service["name"]]
            ide = " (GraphiQL in a browser)" if not production else ""
            print(f"  {service['name']:<10} GraphQL  {base}{service['graphql_path']}{ide}")
            print(f"  {'':<10} admin    {base}/admin/")
            print(f"  {'':<10} health   {base}/health/")
            for worker in service.get("workers", []):
                print(f"  {'':<10} worker   manage.py {worker} (log .run/{service['name']}-{worker}.log)")
            if service.get("redis"):
                redis_dir = service["redis"]["dir"]
                print(f"  {'':<10} redis    127.0.0.1:{service['redis']['port']} (AOF in {redis_dir}/, "
                      f"log .run/{service['name']}-redis.log)")
        print(f"  {'broker':<10} kafka    {kafka} (Tansu, in memory: a restart forgets every event)")
        sys.stdout.flush()
        supervise_until_interrupted(supervisor)
    finally:
        supervisor.stop()
        BROKER_ADDRESS_FILE.unlink(missing_ok=True)
    return 0


# --- tests -------------------------------------------------------------------------------------


def _junit_counts(path: Path) -> tuple[int, int, int]:
    import xml.etree.ElementTree as ElementTree

    if not path.exists():
        return 0, 0, 0
    suites = ElementTree.parse(path).getroot()
    total = failed = skipped = 0
    for suite in suites.iter("testsuite"):
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return total - failed - skipped, failed, skipped


def test(args: list[str]) -> int:
    """Lint, then each service's own tests, then the cross-service tests; one summary line at the end."""
    ensure_backing_services()
    LOG_DIR.mkdir(exist_ok=True)
    failures: list[str] = []
    say("ruff check")
    if subprocess.run([str(VENV / "bin" / "ruff"), "check", "."], cwd=ROOT).returncode:
        failures.append("ruff")
    suites = [(s["name"], ROOT / s["project"]) for s in services()]
    if (ROOT / "common" / "pytest.ini").exists():
        suites.insert(0, ("common", ROOT / "common"))  # the shared package's own tests
    if any((ROOT / "tests").glob("test_*.py")):
        suites.append(("cross-service", ROOT / "tests"))
    passed = failed = skipped = 0
    for name, directory in suites:
        say(f"pytest: {name}")
        report = LOG_DIR / f"junit-{name}.xml"
        report.unlink(missing_ok=True)
        code = subprocess.run(
            [str(VENV_PYTHON), "-m", "pytest", "-q", f"--junitxml={report}", *args], cwd=directory
        ).returncode
        counts = _junit_counts(report)
        passed, failed, skipped = passed + counts[0], failed + counts[1], skipped + counts[2]
        if code not in (0,):
            failures.append(name)
    print()
    if failures:
        say("FAILED: " + ", ".join(failures))
    print(f"all suites: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 1 if failures or passed == 0 else 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    ensure_virtualenv()
    command, rest = argv[0], argv[1:]
    if command == "up":
        return up(rest)
    if command == "broker":
        return broker(rest)
    if command == "setup":
        setup()
        return 0
    if command == "test":
        return test(rest)
    if command == "compose":
        return compose(rest)
    if command == "services":
        for service in services():
            print(f"{service['name']:<10} {service['project']:<18} port {service['port']}")
        return 0
    # Anything else is a manage.py command, run in every service in turn.
    ensure_backing_services()
    codes = [manage(service, [command, *rest], check=False) for service in services()]
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
