"""The deployment files run every service of services.json, and validate with the real tools.

Compose: `docker-compose config` (Debian's docker-compose, no engine needed) with the example env.
Kubernetes: `kubectl kustomize` renders the production overlay, kubernetes-validate checks every
resource against the Kubernetes schemas. The tools are installed when missing (apt, as root); a
tool that cannot be had fails the test: nothing here is skipped.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "production"
# command -> Debian package that provides it
TOOLS = {"docker-compose": "docker-compose", "kubectl": "kubernetes-client"}
WORKER_ROLES = {"relay_outbox": "relay", "consume": "consumer"}


def services() -> list[dict[str, Any]]:
    return json.loads((ROOT / "services.json").read_text())["services"]


def workers(service: dict[str, Any]) -> list[list[str]]:
    return [w if isinstance(w, list) else w.split() for w in service.get("workers", [])]


def role(argv: list[str]) -> str:
    return WORKER_ROLES.get(argv[0], argv[0].replace("_", "-"))


def is_subgraph(service: dict[str, Any]) -> bool:
    return service.get("subgraph", bool(service.get("graphql_path")))


@pytest.fixture(scope="session")
def deploy_tools() -> dict[str, str]:
    """Paths of docker-compose and kubectl, installed with apt-get when missing (idempotent)."""
    missing = [package for command, package in TOOLS.items() if shutil.which(command) is None]
    if missing:
        if os.geteuid() != 0:
            pytest.fail(f"missing {', '.join(missing)}: run `sudo apt-get install -y {' '.join(missing)}`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", *missing]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            result = subprocess.run(install, env=env, capture_output=True, text=True)
            assert result.returncode == 0, f"apt-get install {' '.join(missing)} failed:\n{result.stderr[-2000:]}"
    paths = {command: shutil.which(command) for command in TOOLS}
    absent = [command for command, path in paths.items() if path is None]
    assert not absent, f"{', '.join(absent)} still missing after installing {', '.join(missing)}"
    return paths  # type: ignore[return-value]


# --- generated files ------------------------------------------------------------------------------


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("deploy_generate", ROOT / "deploy" / "generate.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_generated_deployment_files_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    status = load_generator().main(["--check"])
    assert status == 0, capsys.readouterr().err + "services.json changed: run python3 deploy/generate.py and commit"


# --- docker compose -------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_every_service_has_migrate_web_and_worker_containers_with_health_checks() -> None:
    containers = compose()
    for service in services():
        name = service["name"]
        migrate = containers[f"{name}-migrate"]
        assert "migrate --noinput" in " ".join(migrate["command"]), f"{name}: migrations run as a one-shot job"
        assert "create_topics" in " ".join(migrate["command"]), f"{name}: topics are created explicitly"
        web = containers[name]
        assert web["environment"]["DJANGO_SETTINGS_MODULE"] == f"{service['settings']}.prod"
        assert web["environment"]["WSGI_APP"] == service["wsgi"]
        assert "command" not in web, "the web container runs the image's gunicorn command"
        assert "/health/" in " ".join(web["healthcheck"]["test"])
        assert web["depends_on"][f"{name}-migrate"] == {"condition": "service_completed_successfully"}
        for argv in workers(service):
            worker = containers[f"{name}-{role(argv)}"]
            assert worker["command"] == ["python", "manage.py", *argv]
            assert worker["depends_on"][f"{name}-migrate"] == {"condition": "service_completed_successfully"}
            if argv[0] in WORKER_ROLES:
                assert "common.events.heartbeat" in worker["healthcheck"]["test"], f"{name}-{role(argv)}: health check"
        for container in (migrate, web, *(containers[f"{name}-{role(argv)}"] for argv in workers(service))):
            assert container["user"] == "1000:1000", f"{name}: containers run as the non-root app user"


def test_only_the_gateway_is_published_and_it_knows_every_subgraph() -> None:
    containers = compose()
    published = {name for name, container in containers.items() if container.get("ports")}
    assert published == {"gateway"}
    assert all(port.startswith("127.0.0.1:") for port in containers["gateway"]["ports"])
    urls = containers["gateway"]["environment"]["SUBGRAPH_URLS"]
    for service in filter(is_subgraph, services()):
        assert f"--url {service['name']}=http://{service['name']}:8000{service['graphql_path']}" in urls
        assert containers["gateway"]["depends_on"][service["name"]] == {"condition": "service_healthy"}
    assert containers["kafka"]["image"].startswith("apache/kafka:")
    assert containers["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    init = (ROOT / "deploy" / "postgres" / "init-databases.sql").read_text()
    for service in services():
        assert f"CREATE DATABASE {service['database']};" in init


def test_the_carts_redis_is_its_own_with_aof_on_a_named_volume() -> None:
    containers = compose()
    volumes = yaml.safe_load(COMPOSE.read_text())["volumes"]
    redis = containers["cart-redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    volume = redis["volumes"][0].split(":")[0]
    assert volume in volumes, "the AOF lives on a named volume"
    assert containers["cart"]["depends_on"]["cart-redis"] == {"condition": "service_healthy"}
    assert containers["cart"]["environment"]["REDIS_URL"] == "redis://redis:6379/0"  # the shared one, for caches


def test_compose_config_validates_with_the_example_env(deploy_tools: dict[str, str]) -> None:
    result = subprocess.run(
        [deploy_tools["docker-compose"], "-f", str(COMPOSE), "--env-file", str(ROOT / ".env.example"), "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_compose_without_secrets_fails_fast_with_one_clear_line(deploy_tools: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SECRET_KEY", "POSTGRES_PASSWORD"}}
    result = subprocess.run(
        [deploy_tools["docker-compose"], "-f", str(COMPOSE), "--env-file", str(empty), "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode != 0
    assert "(development: cp .env.example .env; production: export it)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- Kubernetes -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rendered(deploy_tools: dict[str, str]) -> list[dict[str, Any]]:
    result = subprocess.run([deploy_tools["kubectl"], "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def schema_errors(resource: dict[str, Any]) -> list[str]:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(resource, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as error:
        return [str(error)]
    return []


def test_the_production_overlay_validates_against_the_kubernetes_schemas(rendered: list[dict[str, Any]]) -> None:
    errors = {f"{doc['kind']}/{doc['metadata']['name']}": schema_errors(doc) for doc in rendered}
    assert not {name: errs for name, errs in errors.items() if errs}
    # The validator really looks: a broken Deployment fails it.
    broken = copy.deepcopy(next(doc for doc in rendered if doc["kind"] == "Deployment"))
    broken["spec"]["replicas"] = "two"
    broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    assert schema_errors(broken)


def by_kind(rendered: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == kind}


def test_manifests_are_in_step_with_services_json(rendered: list[dict[str, Any]]) -> None:
    deployments, jobs = by_kind(rendered, "Deployment"), by_kind(rendered, "Job")
    k8s_services, hpas, pdbs = by_kind(rendered, "Service"), by_kind(rendered, "HorizontalPodAutoscaler"), by_kind(
        rendered, "PodDisruptionBudget"
    )
    for service in services():
        name = service["name"]
        assert "migrate --noinput" in " ".join(jobs[f"{name}-migrate"]["spec"]["template"]["spec"]["containers"][0]["command"])
        web = deployments[f"{name}-web"]["spec"]["template"]["spec"]
        container = web["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/"
        assert {"name": "DJANGO_SETTINGS_MODULE", "value": f"{service['settings']}.prod"} in container["env"]
        assert "migrate --check" in " ".join(web["initContainers"][0]["command"]), "web waits for its migrations"
        assert k8s_services[name]["spec"]["ports"][0]["port"] == 8000
        assert hpas[f"{name}-web"]["spec"]["scaleTargetRef"]["name"] == f"{name}-web"
        assert pdbs[f"{name}-web"]["spec"]["minAvailable"] == 1
        for argv in workers(service):
            worker = deployments[f"{name}-{role(argv)}"]["spec"]["template"]["spec"]["containers"][0]
            assert worker["command"] == ["python", "manage.py", *argv]
            if argv[0] in WORKER_ROLES:
                assert "common.events.heartbeat" in worker["livenessProbe"]["exec"]["command"]
    assert {"gateway-web"} <= set(hpas) & set(pdbs)
    gateway = deployments["gateway-web"]["spec"]["template"]["spec"]["containers"][0]
    gateway_env = {e["name"]: e.get("value") for e in gateway["env"]}
    for service in filter(is_subgraph, services()):
        assert f"--url {service['name']}=http://{service['name']}:8000{service['graphql_path']}" in gateway_env["SUBGRAPH_URLS"]


def test_every_pod_is_non_root_with_requests_and_limits(rendered: list[dict[str, Any]]) -> None:
    for doc in rendered:
        if doc["kind"] not in {"Deployment", "Job"}:
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), doc["metadata"]["name"]
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), doc["metadata"]["name"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_stores_are_external_and_secrets_are_documented(rendered: list[dict[str, Any]]) -> None:
    kinds = {doc["kind"] for doc in rendered}
    assert "StatefulSet" not in kinds and "Secret" not in kinds, "Kafka, PostgreSQL, Redis and secrets come from outside"
    config = by_kind(rendered, "ConfigMap")
    assert len(config) == 1
    data = next(iter(config.values()))["data"]
    assert {"KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "EVENTS_TOPIC_PARTITIONS"} <= set(data)
    example = yaml.safe_load((ROOT / "deploy" / "k8s" / "secrets.example.yaml").read_text())["stringData"]
    referenced = {
        ref["key"]
        for doc in rendered
        if doc["kind"] in {"Deployment", "Job"}
        for container in doc["spec"]["template"]["spec"]["containers"]
        for env in container.get("env", [])
        if (ref := env.get("valueFrom", {}).get("secretKeyRef"))
    }
    assert referenced <= set(example), f"document these keys in secrets.example.yaml: {referenced - set(example)}"
