"""Django settings every service shares. A service's settings/base.py star-imports this
module and adds its own apps, URLs and database name."""

from __future__ import annotations

from common.cache.settings import redis_caches
from common.settings import env_bool, env_int, env_list, env_str

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-insecure-secret-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

SHARED_APPS = [
    "common.admin_site.ServiceAdminConfig",  # django.contrib.admin, naming the service (common/admin_site)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "graphene_django",
    "common.graphiql",  # GraphiQL's assets served locally (no CDN)
    # OpenTelemetry traces when configured (off by default) and Prometheus metrics.
    "common.observability",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files under gunicorn without a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # X-Correlation-ID in, out, and on every event the request causes.
    "common.correlation.CorrelationIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Kafka: by default the development broker of `manage_all.py broker|up` (services.json "broker" port), so
# a service's worker commands run alone find it; manage_all.py and the tests pass the actual address in.
KAFKA_BOOTSTRAP_SERVERS = env_str("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
# Partitions of the topics create_topics makes: the most consumers of one group that all get work.
EVENTS_TOPIC_PARTITIONS = env_int("EVENTS_TOPIC_PARTITIONS", 3)
EVENTS_TOPIC_REPLICATION_FACTOR = env_int("EVENTS_TOPIC_REPLICATION_FACTOR", 1)
# Container health checks (docker-compose.yml, deploy/k8s): the relay and consumer touch it each loop.
EVENTS_HEARTBEAT_FILE = env_str("EVENTS_HEARTBEAT_FILE", "")

GRAPHENE = {
    # A mutation that returns errors is rolled back as a whole: nothing half-written.
    "ATOMIC_MUTATIONS": True,
}

# Redis: one URL for every Redis use of the service (cache, sessions registry, ...).
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = redis_caches(REDIS_URL)
# Keys of this service start with this prefix; empty means the service name (SERVICE_NAME).
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "")
# Layer 2, the data cache (read side): on by default, switched off for benchmarks or debugging.
CACHE_DATA_ENABLED = env_bool("CACHE_DATA_ENABLED", True)
# Seconds a cached value lives at most (writes invalidate earlier; this bounds memory and the
# staleness left by writes that bypass the ORM, e.g. QuerySet.update()).
CACHE_DATA_TTL = env_int("CACHE_DATA_TTL", 300)
# Layer 2b, the result cache: serialized answers of GraphQL queries, invalidated through the
# data versions they were built from; shared only within a scope (CACHE_RESULT_SCOPE, default:
# requests without credentials).
CACHE_RESULT_ENABLED = env_bool("CACHE_RESULT_ENABLED", True)

# `/metrics/` needs `X-Metrics-Token: <METRICS_TOKEN>`; without a token it is open only with DEBUG
# (common.metrics_access).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
