"""Catalog service settings shared by every environment."""

from pathlib import Path

from common.auth.service_settings import *  # noqa: F403
from common.auth.service_settings import REPLICA_APPS, with_auth_middleware
from common.settings import database_config, env_int, env_str
from common.settings.defaults import *  # noqa: F403
from common.settings.defaults import GRAPHENE, MIDDLEWARE, SHARED_APPS

SERVICE_NAME = "catalog"
BASE_DIR = Path(__file__).resolve().parents[2]

INSTALLED_APPS = [*SHARED_APPS, *REPLICA_APPS, "common.events", "catalog"]
# request.auth on every request; users are the replica of accounts users (docs/auth.md).
MIDDLEWARE = with_auth_middleware(MIDDLEWARE)
# Browsers share cookies between ports of one host: each service names its own, so signing in to
# one service's admin never overwrites another's session (accounts keeps Django's default names).
SESSION_COOKIE_NAME = f"{SERVICE_NAME}_sessionid"
CSRF_COOKIE_NAME = f"{SERVICE_NAME}_csrftoken"

# The catalog's own read model (stock activity) is fed by its product and stock events; the user
# replica (common.auth.replica) by the accounts user events; stock reservations (the checkout
# saga, catalog/reservations.py) by the orders' events.
EVENTS_CONSUME_TOPICS = ["catalog.product", "catalog.stock", "accounts.user", "orders.order"]
# Domain events recorded by commands (the bridged models add catalog.product and catalog.category):
# manual stock adjustments and the saga's replies.
EVENTS_PUBLISH_TOPICS = ["catalog.stock"]

ROOT_URLCONF = "catalog_project.urls"
WSGI_APPLICATION = "catalog_project.wsgi.application"

# database_config's backend is common.db.postgresql for every service: no SELECT 1 round trip before every
# request (docs/performance.md §2).
DATABASES = {"default": database_config("catalog")}
# Server-side parameters, and statements run 5 times on a connection are prepared (psycopg's default;
# Django turns preparing off): PostgreSQL parses and plans the list query once per connection.
DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}), "server_side_binding": True,
                                   "prepare_threshold": 5}

GRAPHENE = {**GRAPHENE, "SCHEMA": "catalog.schema.schema"}

# Catalog answers depend on what the caller may see, not on who calls: anonymous callers and signed-in
# shoppers share the result cache (`public`), staff share `staff` (docs/caching.md, layer 2b). A field
# whose answer depends on the caller beyond that must change this (or not be a catalog field).
CACHE_RESULT_SCOPE = "common.cache.results.visibility_scope"

# Products at or below this quantity show up in the admin's low-stock list.
CATALOG_LOW_STOCK_THRESHOLD = env_int("CATALOG_LOW_STOCK_THRESHOLD", 5)
# Currency of products created without one (commands, seed).
CATALOG_DEFAULT_CURRENCY = env_str("CATALOG_DEFAULT_CURRENCY", "USD")
