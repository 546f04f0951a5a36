"""Cart service settings shared by every environment.

Carts live in the cart's OWN Redis (CART_REDIS_URL: persistent, AOF), not in SQL. PostgreSQL
`cart` holds only Django's auth/admin tables and the user replica the admin sign-in needs.
"""

from pathlib import Path

from common.auth.service_settings import *  # noqa: F403
from common.auth.service_settings import REPLICA_APPS, with_auth_middleware
from common.settings import database_config, env_int, env_str
from common.settings.defaults import *  # noqa: F403
from common.settings.defaults import MIDDLEWARE, SHARED_APPS

SERVICE_NAME = "cart"
BASE_DIR = Path(__file__).resolve().parents[2]

# "cart" before "common.events": its `relay_outbox` (the Redis-stream relay) replaces the SQL one.
INSTALLED_APPS = [*SHARED_APPS, *REPLICA_APPS, "cart", "common.events"]
MIDDLEWARE = with_auth_middleware(MIDDLEWARE)
SESSION_COOKIE_NAME = f"{SERVICE_NAME}_sessionid"
CSRF_COOKIE_NAME = f"{SERVICE_NAME}_csrftoken"

ROOT_URLCONF = "cart_project.urls"
WSGI_APPLICATION = "cart_project.wsgi.application"

DATABASES = {"default": database_config("cart")}

# --- the cart's own Redis: the database of carts ------------------------------------------------
CART_REDIS_URL = env_str("CART_REDIS_URL", "redis://127.0.0.1:6390/0")
# Every key of the cart starts with this (tests use their own Redis, but a prefix costs nothing).
CART_REDIS_PREFIX = env_str("CART_REDIS_PREFIX", "cart:")
CART_REDIS_SOCKET_TIMEOUT = float(env_str("CART_REDIS_SOCKET_TIMEOUT", "2"))
CART_ANONYMOUS_TTL_SECONDS = env_int("CART_ANONYMOUS_TTL_SECONDS", 30 * 24 * 3600)
CART_MAX_LINE_QUANTITY = 99
CART_MAX_LINES = 100
CART_DEFAULT_CURRENCY = "USD"

# --- events -----------------------------------------------------------------------------------
# Published through the Redis-stream outbox (common.events.redis_outbox), relayed by relay_outbox.
EVENTS_PUBLISH_TOPICS = ["cart.cart"]
# The product read model (catalog.product), checkouts (orders.order), the user replica (accounts.user).
EVENTS_CONSUME_TOPICS = ["catalog.product", "orders.order", "accounts.user"]
# Cart handlers record "already applied" in Redis, atomically with their effect; the replica's in SQL.
EVENTS_APPLIER = "cart.consuming.applier"
