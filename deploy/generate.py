#!/usr/bin/env python3
"""Writes the deployment files from services.json: `docker-compose.yml` (repository root), the
PostgreSQL init script and the per-service Kubernetes manifests of the kustomize base.

    python3 deploy/generate.py           # rewrite the generated files
    python3 deploy/generate.py --check   # exit 1 when a generated file is out of date (CI runs this as a test)

A new service joins the deployment by its entry in services.json plus, when it needs more than
a database, the shared Redis and Kafka, a line in EXTRAS below. Only the standard library and
PyYAML (requirements/dev.txt) are used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
POSTGRES_INIT = ROOT / "deploy" / "postgres" / "init-databases.sql"
K8S_BASE = ROOT / "deploy" / "k8s" / "base"
K8S_SERVICES = K8S_BASE / "services"
K8S_PRODUCTION = ROOT / "deploy" / "k8s" / "overlays" / "production"

# Services written down in docs/contracts.md whose services.json entry has not landed yet; the
# services.json entry wins as soon as it exists (then the line here is dead and can go).
PLANNED: list[dict[str, Any]] = [
    {"name": "cart", "project": "cart_project", "database": "cart", "port": 8002, "graphql_path": "/graphql/",
     "workers": ["relay_outbox", "consume"], "redis": {"url_setting": "CART_REDIS_URL", "appendonly": True}},
    {"name": "orders", "project": "orders_project", "database": "orders", "port": 8003, "graphql_path": "/graphql/",
     "workers": ["relay_outbox", "consume", "expire_pending_orders --loop"]},
]

# What a service needs beyond its database, the shared Redis and Kafka.
EXTRAS: dict[str, dict[str, Any]] = {
    "accounts": {
        # Reached only through the gateway, which appends the client to X-Forwarded-For.
        "env": {"ACCOUNTS_TRUSTED_PROXY_COUNT": "1", "ACCOUNTS_SIGNING_KEY_FILE": "/run/secrets/accounts_signing_key"},
        # Compose mounts the PEM named by ACCOUNTS_SIGNING_KEY_PATH (host) at /run/secrets/accounts_signing_key.
        "file_secrets": {"accounts_signing_key": "ACCOUNTS_SIGNING_KEY_PATH"},
    },
}

# Worker command -> container/Deployment suffix. Other commands take their name with dashes.
WORKER_ROLES = {"relay_outbox": "relay", "consume": "consumer"}
# Workers that write a heartbeat file each loop (common.events.heartbeat): their health check.
HEARTBEAT_WORKERS = {"relay_outbox", "consume"}
HEARTBEAT_FILE = "/tmp/worker.alive"  # noqa: S108 - inside the container, one worker per container
HEARTBEAT_MAX_AGE = 60
SUPERGRAPH_FILE = "/tmp/supergraph.graphql"  # noqa: S108 - the gateway composes into a writable place
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - inside a container, behind its network
APP_UID = 1000  # the `app` user of deploy/Dockerfile.service
IMAGE = "catalog-platform/{name}"
GATEWAY_IMAGE = "catalog-platform/gateway"


# --- the service model --------------------------------------------------------------------------


def load_services() -> list[dict[str, Any]]:
    """services.json entries and the planned ones not listed yet, by name (the output does not
    depend on the order of services.json), with every field filled in."""
    listed = json.loads((ROOT / "services.json").read_text())["services"]
    names = {service["name"] for service in listed}
    result = []
    for raw in sorted([*listed, *(p for p in PLANNED if p["name"] not in names)], key=lambda s: s["name"]):
        service = dict(raw)
        project = service.setdefault("project", f"{service['name']}_project")
        service.setdefault("settings", f"{project}.settings")
        service.setdefault("wsgi", f"{project}.wsgi:application")
        service.setdefault("database", service["name"])
        service["workers"] = [worker_argv(worker) for worker in service.get("workers", [])]
        service["extras"] = dict(EXTRAS.get(service["name"], {}))
        # A service whose data lives in Redis (services.json "redis": the cart) gets its own server,
        # with AOF on a volume, never the shared cache; the service reads its URL from `url_setting`.
        if (service.get("redis") or {}).get("url_setting"):
            service["extras"]["own_redis"] = service["redis"]["url_setting"]
        result.append(service)
    return result


def worker_argv(worker: str | list[str]) -> list[str]:
    """A services.json worker: "relay_outbox", "expire_pending_orders --loop" or ["cmd", "--flag"]."""
    return list(worker) if isinstance(worker, list) else worker.split()


def worker_role(argv: list[str]) -> str:
    return WORKER_ROLES.get(argv[0], argv[0].replace("_", "-"))


def subgraphs(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in services if s.get("subgraph", bool(s.get("graphql_path")))]


def subgraph_urls(services: list[dict[str, Any]], port: int = 8000) -> str:
    return " ".join(f"--url {s['name']}=http://{s['name']}:{port}{s['graphql_path']}" for s in subgraphs(services))


# --- docker compose -----------------------------------------------------------------------------

REQUIRED = "{var}:?set {var} (development: cp .env.example .env; production: export it)"


def required(var: str) -> str:
    return "${" + REQUIRED.format(var=var) + "}"


HEARTBEAT_CHECK = ["CMD", "python", "-m", "common.events.heartbeat", HEARTBEAT_FILE, str(HEARTBEAT_MAX_AGE)]
HTTP_CHECK = [
    "CMD", "python", "-c",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/', timeout=5)",
]


def service_environment(service: dict[str, Any]) -> dict[str, str]:
    name = service["name"]
    env = {
        "DJANGO_SETTINGS_MODULE": f"{service['settings']}.prod",
        "DJANGO_SECRET_KEY": required("DJANGO_SECRET_KEY"),
        "DJANGO_ALLOWED_HOSTS": f"{name},localhost,127.0.0.1",
        # TLS ends at the load balancer in front of the gateway; it says so in X-Forwarded-Proto.
        "DJANGO_SECURE_COOKIES": "${DJANGO_SECURE_COOKIES:-true}",
        "DATABASE_URL": f"postgres://postgres:{required('POSTGRES_PASSWORD')}@postgres:5432/{service['database']}",
        "REDIS_URL": "redis://redis:6379/0",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
        "EVENTS_TOPIC_PARTITIONS": "${KAFKA_TOPIC_PARTITIONS:-6}",
        "AUTH_JWKS_URL": "http://accounts:8000/.well-known/jwks.json",
        "AUTH_ACCOUNTS_GRAPHQL_URL": "http://accounts:8000/graphql/",
        "WSGI_APP": service["wsgi"],
        "GUNICORN_BIND": "0.0.0.0:8000",
        # gthread workers keep one database connection per thread: workers x threads per container.
        "GUNICORN_WORKERS": "${GUNICORN_WORKERS:-3}",
        "EVENTS_HEARTBEAT_FILE": HEARTBEAT_FILE,
        # Traces are off unless an OTLP endpoint is given (docs/operations.md, observability).
        "OTEL_EXPORTER_OTLP_ENDPOINT": "${OTEL_EXPORTER_OTLP_ENDPOINT:-}",
        "OTEL_SERVICE_NAME": name,
    }
    extras = service["extras"]
    if extras.get("own_redis"):
        env[extras["own_redis"]] = f"redis://{name}-redis:6379/0"
    env.update(extras.get("env", {}))
    return env


def compose_services(services: list[dict[str, Any]]) -> dict[str, Any]:
    containers: dict[str, Any] = {
        "postgres": {
            "image": "postgres:16",
            "environment": {"POSTGRES_PASSWORD": required("POSTGRES_PASSWORD")},
            "volumes": ["pgdata:/var/lib/postgresql/data",
                        "./deploy/postgres/init-databases.sql:/docker-entrypoint-initdb.d/init-databases.sql:ro"],
            "healthcheck": {"test": ["CMD", "pg_isready", "-U", "postgres"], "interval": "5s", "retries": 30},
        },
        # The shared Redis: caches, the session registry and rate limits of every service.
        "redis": {
            "image": "redis:7",
            "command": ["redis-server", "--appendonly", "yes", "--appendfsync", "everysec"],
            "volumes": ["redisdata:/data"],
            "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": "5s", "retries": 30},
        },
        "kafka": {
            "image": "apache/kafka:3.9.1",
            "environment": {
                "KAFKA_NODE_ID": "1",
                "KAFKA_PROCESS_ROLES": "broker,controller",  # KRaft: no ZooKeeper
                "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
                "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092",
                "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@kafka:9093",
                "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
                "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
                # Topics are created explicitly (partition count is configuration), never on first use.
                "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
            },
            "volumes": ["kafkadata:/var/lib/kafka/data"],
            "healthcheck": {
                "test": ["CMD-SHELL", "/opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --list"],
                "interval": "10s", "retries": 30,
            },
        },
    }
    secrets: dict[str, Any] = {}
    for service in services:
        containers.update(compose_for_service(service, secrets))
    containers["gateway"] = {
        "build": {"context": ".", "dockerfile": "deploy/Dockerfile.gateway"},
        "environment": {
            "NODE_ENV": "production",
            "GATEWAY_HOST": ALL_INTERFACES,
            "GATEWAY_PORT": "4000",
            "REDIS_URL": "redis://redis:6379/0",
            "GATEWAY_CORS_ORIGINS": "${GATEWAY_CORS_ORIGINS:-}",
            "SUBGRAPH_URLS": subgraph_urls(services),
            # Composed at start into a writable place (the image's files belong to root).
            "GATEWAY_SUPERGRAPH": SUPERGRAPH_FILE,
            "OTEL_EXPORTER_OTLP_ENDPOINT": "${OTEL_EXPORTER_OTLP_ENDPOINT:-}",
            "OTEL_SERVICE_NAME": "gateway",
        },
        "depends_on": {
            "redis": {"condition": "service_healthy"},
            **{s["name"]: {"condition": "service_healthy"} for s in subgraphs(services)},
        },
        # The only published port; put a TLS load balancer in front of it.
        "ports": ["127.0.0.1:${GATEWAY_PUBLISHED_PORT:-4000}:4000"],
        "healthcheck": {
            "test": ["CMD", "node", "-e",
                     "fetch('http://127.0.0.1:4000/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"],
            "interval": "10s", "retries": 30, "start_period": "30s",
        },
        "restart": "unless-stopped",
    }
    return {"containers": containers, "secrets": secrets}


def compose_for_service(service: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    name = service["name"]
    extras = service["extras"]
    base: dict[str, Any] = {
        "build": {"context": ".", "dockerfile": "deploy/Dockerfile.service", "args": {"SERVICE_DIR": service["project"]}},
        "image": IMAGE.format(name=name),
        "user": f"{APP_UID}:{APP_UID}",
        "environment": service_environment(service),
    }
    file_secrets = extras.get("file_secrets", {})
    if file_secrets:
        base["secrets"] = sorted(file_secrets)
        for secret, variable in file_secrets.items():
            secrets[secret] = {"file": required(variable)}
    stores = {"redis": {"condition": "service_healthy"}}
    containers: dict[str, Any] = {}
    if extras.get("own_redis"):
        containers[f"{name}-redis"] = {
            "image": "redis:7",
            # AOF fsynced every second is the persistence (no RDB snapshots on top).
            "command": ["redis-server", "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--dir", "/data"],
            "volumes": [f"{name}-redis-data:/data"],
            "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": "5s", "retries": 30},
        }
        stores[f"{name}-redis"] = {"condition": "service_healthy"}
    migrated = {f"{name}-migrate": {"condition": "service_completed_successfully"}}
    containers[f"{name}-migrate"] = {
        **base,
        # Schema changes only through committed migrations; topics are created explicitly with
        # EVENTS_TOPIC_PARTITIONS partitions (the topic-init step).
        "command": ["sh", "-c", "python manage.py migrate --noinput && python manage.py create_topics"],
        "depends_on": {"postgres": {"condition": "service_healthy"}, "kafka": {"condition": "service_healthy"}},
        "restart": "on-failure",
    }
    containers[name] = {
        **base,
        "depends_on": {**migrated, **stores},
        "healthcheck": {"test": HTTP_CHECK, "interval": "10s", "retries": 12, "start_period": "20s"},
        "restart": "unless-stopped",
    }
    for argv in service["workers"]:
        worker: dict[str, Any] = {
            **base,
            "command": ["python", "manage.py", *argv],
            "depends_on": {**migrated, **stores, "kafka": {"condition": "service_healthy"}},
            "restart": "unless-stopped",
        }
        if argv[0] in HEARTBEAT_WORKERS:
            worker["healthcheck"] = {"test": HEARTBEAT_CHECK, "interval": "15s", "retries": 4, "start_period": "30s"}
        containers[f"{name}-{worker_role(argv)}"] = worker
    return containers


HEADER = """\
# GENERATED by deploy/generate.py from services.json: edit the generator, then run
#   python3 deploy/generate.py
#
# Production-like stack: Apache Kafka (KRaft), PostgreSQL (one database per service), the shared
# Redis, the cart's own Redis (AOF), every service under gunicorn with production settings, one
# outbox relay and one event consumer container per service, one-shot migrate jobs that the web and
# worker containers wait for, and the gateway: the only published port.
#
#   cp .env.example .env && docker compose up --build
#
# Production: do not use .env.example; export the secrets (a missing one stops `up` with one line).
"""


def render_compose(services: list[dict[str, Any]]) -> str:
    parts = compose_services(services)
    volumes = ["pgdata", "redisdata", "kafkadata"]
    volumes += [f"{s['name']}-redis-data" for s in services if s["extras"].get("own_redis")]
    document: dict[str, Any] = {"services": parts["containers"]}
    if parts["secrets"]:
        document["secrets"] = parts["secrets"]
    document["volumes"] = {volume: {} for volume in volumes}
    return HEADER + dump(document)


def render_postgres_init(services: list[dict[str, Any]]) -> str:
    lines = ["-- GENERATED by deploy/generate.py from services.json.",
             "-- One database per service (each service owns its schema, migrated by its own manage.py)."]
    lines += [f"CREATE DATABASE {database};" for database in sorted({s["database"] for s in services})]
    return "\n".join(lines) + "\n"


# --- Kubernetes ---------------------------------------------------------------------------------


def labels(app: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "catalog-platform"}


def pod_security() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": APP_UID, "runAsGroup": APP_UID, "fsGroup": APP_UID,
            "seccompProfile": {"type": "RuntimeDefault"}}


def container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def k8s_env(service: dict[str, Any]) -> list[dict[str, Any]]:
    name = service["name"]
    env: list[dict[str, Any]] = [
        {"name": "DJANGO_SETTINGS_MODULE", "value": f"{service['settings']}.prod"},
        {"name": "DJANGO_ALLOWED_HOSTS", "value": f"{name},localhost,127.0.0.1"},
        {"name": "WSGI_APP", "value": service["wsgi"]},
        {"name": "OTEL_SERVICE_NAME", "value": name},
        {"name": "DJANGO_SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": "platform-secrets", "key": "django-secret-key"}}},
        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "platform-secrets", "key": f"{name}-database-url"}}},
    ]
    extras = service["extras"]
    if extras.get("own_redis"):
        env.append({"name": extras["own_redis"],
                    "valueFrom": {"secretKeyRef": {"name": "platform-secrets", "key": f"{name}-redis-url"}}})
    for variable, value in extras.get("env", {}).items():
        env.append({"name": variable, "value": value})
    return env


def k8s_volumes(service: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - gunicorn's worker files
    for secret in service["extras"].get("file_secrets", {}):
        key = secret.replace("_", "-")
        volumes.append({"name": key, "secret": {"secretName": "platform-secrets", "items": [{"key": key, "path": secret}]}})
        mounts.append({"name": key, "mountPath": "/run/secrets", "readOnly": True})
    return volumes, mounts


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def python_container(service: dict[str, Any], name: str, command: list[str] | None, **more: Any) -> dict[str, Any]:
    _, mounts = k8s_volumes(service)
    container: dict[str, Any] = {
        "name": name,
        "image": IMAGE.format(name=service["name"]),
        "envFrom": [{"configMapRef": {"name": "platform-config"}}],
        "env": k8s_env(service),
        "securityContext": container_security(),
        "volumeMounts": mounts,
    }
    if command:
        container["command"] = command
    container.update(more)
    return container


def pod_spec(service: dict[str, Any], containers: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    volumes, _ = k8s_volumes(service)
    return {"securityContext": pod_security(), "containers": containers, "volumes": volumes, **more}


def wait_for_migrations(service: dict[str, Any]) -> dict[str, Any]:
    # Kubernetes has no depends_on: the pod starts only when its schema is fully migrated (the Job's work).
    return python_container(
        service, "wait-for-migrations",
        ["sh", "-c", "until python manage.py migrate --check >/dev/null 2>&1; do echo waiting for migrations; sleep 5; done"],
        resources=resources("50m", "128Mi", "500m", "256Mi"),
    )


def http_probe(host: str, path: str = "/health/", port: str = "http") -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port, "httpHeaders": [{"name": "Host", "value": host}]}}


def k8s_service_documents(service: dict[str, Any]) -> list[dict[str, Any]]:
    name = service["name"]
    docs: list[dict[str, Any]] = []
    docs.append({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": f"{name}-migrate", "labels": labels(name, "migrate")},
        "spec": {
            "backoffLimit": 6,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels(name, "migrate")},
                "spec": pod_spec(service, [python_container(
                    service, "migrate",
                    ["sh", "-c", "python manage.py migrate --noinput && python manage.py create_topics"],
                    resources=resources("100m", "256Mi", "1", "512Mi"),
                )], restartPolicy="OnFailure"),
            },
        },
    })
    web = python_container(
        service, "web", None,
        ports=[{"name": "http", "containerPort": 8000}],
        readinessProbe={**http_probe(name), "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
        livenessProbe={**http_probe(name), "initialDelaySeconds": 20, "periodSeconds": 10, "timeoutSeconds": 5,
                       "failureThreshold": 6},
        resources=resources("250m", "384Mi", "1", "768Mi"),
        # Keep serving while the endpoints controller takes the pod out of the Service; only then
        # does SIGTERM make gunicorn finish its requests and stop (no connection refused mid-rollout).
        lifecycle={"preStop": {"exec": {"command": ["sleep", "10"]}}},
    )
    docs.append(deployment(name, "web", 2, pod_spec(service, [web], initContainers=[wait_for_migrations(service)],
                                                      terminationGracePeriodSeconds=45)))
    docs.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "labels": labels(name, "web")},
        "spec": {"selector": labels(name, "web"), "ports": [{"name": "http", "port": 8000, "targetPort": "http"}]},
    })
    docs.append(hpa(name, f"{name}-web"))
    docs.append(pdb(name, "web"))
    for argv in service["workers"]:
        role = worker_role(argv)
        probe = None
        if argv[0] in HEARTBEAT_WORKERS:
            probe = {"exec": {"command": HEARTBEAT_CHECK[1:]}, "initialDelaySeconds": 30, "periodSeconds": 15,
                     "failureThreshold": 4}
        worker = python_container(service, role, ["python", "manage.py", *argv],
                                  resources=resources("100m", "256Mi", "1", "512Mi"))
        if probe:
            worker["livenessProbe"] = probe
        # Two relays: one publishes, the other stands by (advisory lock). Two consumers share the
        # group's partitions; more consumers than partitions idle.
        replicas = 2 if argv[0] in HEARTBEAT_WORKERS else 1
        docs.append(deployment(name, role, replicas, pod_spec(service, [worker],
                                                             initContainers=[wait_for_migrations(service)],
                                                             terminationGracePeriodSeconds=30)))
    return docs


def deployment(name: str, component: str, replicas: int, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"{name}-{component}", "labels": labels(name, component)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels(name, component)},
            "template": {"metadata": {"labels": labels(name, component)}, "spec": spec},
        },
    }


def hpa(name: str, target: str, minimum: int = 2, maximum: int = 10) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": target, "labels": labels(name, "autoscaler")},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": minimum, "maxReplicas": maximum,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                    "averageUtilization": 70}}}],
        },
    }


def pdb(name: str, component: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": f"{name}-{component}", "labels": labels(name, component)},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels(name, component)}},
    }


def k8s_gateway_documents(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    container = {
        "name": "gateway",
        "image": GATEWAY_IMAGE,
        "envFrom": [{"configMapRef": {"name": "platform-config"}}],
        "env": [
            {"name": "NODE_ENV", "value": "production"},
            {"name": "GATEWAY_HOST", "value": ALL_INTERFACES},
            {"name": "GATEWAY_PORT", "value": "4000"},
            {"name": "OTEL_SERVICE_NAME", "value": "gateway"},
            {"name": "SUBGRAPH_URLS", "value": subgraph_urls(services)},
            {"name": "GATEWAY_SUPERGRAPH", "value": SUPERGRAPH_FILE},
        ],
        "ports": [{"name": "http", "containerPort": 4000}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 30, "periodSeconds": 10,
                          "failureThreshold": 6},
        "resources": resources("250m", "256Mi", "1", "768Mi"),
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }
    spec = {"securityContext": {**pod_security(), "runAsUser": 1000, "runAsGroup": 1000},  # node:20-slim's `node`
            "containers": [container], "volumes": [{"name": "tmp", "emptyDir": {}}]}
    return [
        deployment("gateway", "web", 2, spec),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gateway", "labels": labels("gateway", "web")},
         "spec": {"selector": labels("gateway", "web"), "ports": [{"name": "http", "port": 4000, "targetPort": "http"}]}},
        hpa("gateway", "gateway-web"),
        pdb("gateway", "web"),
    ]


# Kustomizations written in the subset that every kustomize from v2.0 (Debian's kubectl 1.20) to v5
# reads: `bases` for directories, `commonLabels`, `patchesJson6902` with a file per target. (v5
# warns that these are deprecated on stderr; the output is the same.)
PLATFORM_CONFIG = [
    # The user's Kafka (e.g. a Strimzi cluster's bootstrap service), shared Redis and accounts URLs.
    "KAFKA_BOOTSTRAP_SERVERS=kafka-bootstrap:9092",
    "EVENTS_TOPIC_PARTITIONS=6",
    "EVENTS_TOPIC_REPLICATION_FACTOR=3",
    "REDIS_URL=redis://redis:6379/0",
    "AUTH_JWKS_URL=http://accounts:8000/.well-known/jwks.json",
    "AUTH_ACCOUNTS_GRAPHQL_URL=http://accounts:8000/graphql/",
    f"GUNICORN_BIND={ALL_INTERFACES}:8000",
    "GUNICORN_WORKERS=2",
    "DJANGO_SECURE_COOKIES=true",
    f"EVENTS_HEARTBEAT_FILE={HEARTBEAT_FILE}",
    # Traces: empty = off; e.g. http://otel-collector.observability:4318
    "OTEL_EXPORTER_OTLP_ENDPOINT=",
]
PRODUCTION_CONFIG = [
    # Strimzi: <cluster>-kafka-bootstrap.<namespace>; a managed Kafka: its bootstrap list.
    "KAFKA_BOOTSTRAP_SERVERS=shop-kafka-bootstrap.kafka:9092",
    "EVENTS_TOPIC_PARTITIONS=12",
    "REDIS_URL=redis://shop-redis-master.redis:6379/0",
    "GUNICORN_WORKERS=3",
]
REGISTRY = "registry.example.com/catalog-platform"


def render_k8s(services: list[dict[str, Any]]) -> dict[Path, str]:
    header = "# GENERATED by deploy/generate.py from services.json: edit the generator, then run it.\n"
    files: dict[Path, str] = {}
    for service in services:
        files[K8S_SERVICES / f"{service['name']}.yaml"] = header + dump_all(k8s_service_documents(service))
    files[K8S_SERVICES / "gateway.yaml"] = header + dump_all(k8s_gateway_documents(services))
    files[K8S_BASE / "kustomization.yaml"] = header + (
        "# Kustomize base: every service of services.json and the gateway. Kafka, PostgreSQL and Redis are\n"
        "# external: named in the platform-config ConfigMap (addresses) and the platform-secrets Secret\n"
        "# (credentials, created outside git: deploy/k8s/secrets.example.yaml).\n"
    ) + dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "commonLabels": {"app.kubernetes.io/managed-by": "kustomize"},
        "resources": [*(f"services/{service['name']}.yaml" for service in services), "services/gateway.yaml"],
        "configMapGenerator": [{"name": "platform-config", "literals": PLATFORM_CONFIG}],
    })
    names = [*(service["name"] for service in services), "gateway"]
    files[K8S_PRODUCTION / "kustomization.yaml"] = header + (
        "# Production overlay: namespace, image tags, the managed Kafka/PostgreSQL/Redis addresses, sizes.\n"
        "#   kubectl kustomize deploy/k8s/overlays/production | kubectl apply -f -\n"
        "# Create the platform-secrets Secret first (deploy/k8s/secrets.example.yaml shows its keys).\n"
    ) + dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": "catalog-platform",
        "bases": ["../../base"],
        "resources": ["namespace.yaml"],
        "images": [{"name": IMAGE.format(name=name), "newName": f"{REGISTRY}/{name}", "newTag": "1.0.0"} for name in names],
        "configMapGenerator": [{"name": "platform-config", "behavior": "merge", "literals": PRODUCTION_CONFIG}],
        # Every web Deployment and the gateway autoscale between 3 and 20 pods (hpa-production.yaml).
        "patchesJson6902": [
            {"target": {"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler", "name": f"{name}-web"},
             "path": "hpa-production.yaml"}
            for name in names
        ],
    })
    return files


# --- output -------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # every value written out in full: no &id001 anchors
        return True


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    # Short lists of plain values (commands, health checks) on one line, as people write them.
    flow = all(isinstance(item, str | int | float | bool) for item in data) and len(str(data)) <= 120
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=200, default_flow_style=False)


def dump_all(documents: list[Any]) -> str:
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=200, default_flow_style=False)


def generated_files() -> dict[Path, str]:
    services = load_services()
    return {COMPOSE_FILE: render_compose(services), POSTGRES_INIT: render_postgres_init(services), **render_k8s(services)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report generated files that are out of date")
    args = parser.parse_args(argv)
    files = generated_files()
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    orphans = [path for path in K8S_SERVICES.glob("*.yaml") if path not in files]
    if args.check:
        for path in [*stale, *orphans]:
            print(f"out of date: {path.relative_to(ROOT)} (run python3 deploy/generate.py)", file=sys.stderr)
        return 1 if stale or orphans else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        print(f"wrote {path.relative_to(ROOT)}")
    for path in orphans:
        path.unlink()
        print(f"removed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
