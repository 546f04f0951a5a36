"""Orders service settings shared by every environment."""

from pathlib import Path

from common.auth.service_settings import *  # noqa: F403
from common.auth.service_settings import REPLICA_APPS, with_auth_middleware
from common.settings import database_config, env_int, env_list, env_str
from common.settings.defaults import *  # noqa: F403
from common.settings.defaults import MIDDLEWARE, SHARED_APPS

SERVICE_NAME = "orders"
BASE_DIR = Path(__file__).resolve().parents[2]

INSTALLED_APPS = [*SHARED_APPS, *REPLICA_APPS, "common.events", "orders"]
# request.auth on every request; users are the replica of accounts users (docs/auth.md).
MIDDLEWARE = with_auth_middleware(MIDDLEWARE)
SESSION_COOKIE_NAME = f"{SERVICE_NAME}_sessionid"
CSRF_COOKIE_NAME = f"{SERVICE_NAME}_csrftoken"

# What orders reacts to (docs/orders.md): product and cart replicas, the catalog's saga replies,
# its own order events (the CQRS read model) and the accounts users (the user replica).
EVENTS_CONSUME_TOPICS = ["catalog.product", "catalog.stock", "cart.cart", "orders.order", "accounts.user"]
EVENTS_PUBLISH_TOPICS = ["orders.order"]

ROOT_URLCONF = "orders_project.urls"
WSGI_APPLICATION = "orders_project.wsgi.application"

DATABASES = {"default": database_config("orders")}

GRAPHENE = {
    "SCHEMA": "orders.schema.schema",
    "ATOMIC_MUTATIONS": True,
}

# Every answer of this subgraph is about one signed-in user: never share a cached result.
CACHE_RESULT_ENABLED = False

# An order still PENDING after this many seconds is rejected by `expire_pending_orders`.
ORDERS_PENDING_TIMEOUT_SECONDS = env_int("ORDERS_PENDING_TIMEOUT_SECONDS", 60)
# How often `expire_pending_orders --loop` looks for expired orders.
ORDERS_EXPIRY_INTERVAL_SECONDS = env_int("ORDERS_EXPIRY_INTERVAL_SECONDS", 5)
# placeOrder(cartVersion: N) waits at most this long for the cart replica to reach version N.
ORDERS_CART_WAIT_SECONDS = float(env_str("ORDERS_CART_WAIT_SECONDS", "3"))
# The gateway's subgraph timeout (the same variable the gateway reads, docs/gateway.md; 0 = none): the
# cart wait must stay below it, checked by orders.E001 (orders/checks.py).
GATEWAY_SUBGRAPH_TIMEOUT_MS = env_int("GATEWAY_SUBGRAPH_TIMEOUT_MS", 10_000)
# While waiting it wakes on the consumer's NOTIFY (orders/cart_wait.py); it re-reads the replica at
# least this often anyway (a missed notification, the listener reconnecting).
ORDERS_CART_POLL_SECONDS = float(env_str("ORDERS_CART_POLL_SECONDS", "0.25"))
# Currencies an order may be placed in (one per order).
ORDERS_CURRENCIES = env_list("ORDERS_CURRENCIES", ["USD"])
# Units of one product per order line, and lines per order.
ORDERS_MAX_LINE_QUANTITY = env_int("ORDERS_MAX_LINE_QUANTITY", 1000)
ORDERS_MAX_LINES = env_int("ORDERS_MAX_LINES", 100)
# The payment provider (orders/payments.py): dotted path of a PaymentProvider class.
ORDERS_PAYMENT_PROVIDER = env_str("ORDERS_PAYMENT_PROVIDER", "orders.payments.TestPaymentProvider")
