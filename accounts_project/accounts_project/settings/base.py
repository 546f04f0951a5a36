"""Accounts service settings shared by every environment."""

from pathlib import Path

from common.settings import database_config, env_int, env_list, env_str
from common.settings.defaults import *  # noqa: F403
from common.settings.defaults import REDIS_URL, SHARED_APPS

SERVICE_NAME = "accounts"
REPO_ROOT = Path(__file__).resolve().parents[3]

INSTALLED_APPS = [*SHARED_APPS, "common.events", "accounts"]

# Account events go out through the transactional outbox (relay_outbox publishes them).
# (accounts.user is also the bridged User's topic: accounts/events.py.)
EVENTS_PUBLISH_TOPICS = ["accounts.user", "accounts.session"]

# The admin index tells staff who may see nothing here what their roles allow in other services.
ADMIN_USER_GRANTS = "accounts.admin.service_grants"

ROOT_URLCONF = "accounts_project.urls"
WSGI_APPLICATION = "accounts_project.wsgi.application"

DATABASES = {"default": database_config("accounts")}

# --- users and passwords -----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    # Kept so hashes made elsewhere (fixtures, imports) still verify; they are upgraded to Argon2 on login.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ("email", "full_name")}},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Redis: Django cache, browser sessions, login throttling, the shared auth registry ----------
# (REDIS_URL comes from common.settings.defaults.)
# The registry every service reads (common.auth.registry): all services must point at the same Redis.
AUTH_REGISTRY_REDIS_URL = env_str("AUTH_REGISTRY_REDIS_URL", REDIS_URL)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("ACCOUNTS_CACHE_PREFIX", "accounts"),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 2},
    },
}
# Browser sessions (admin, cookie clients) live in Redis, not in a database table.
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "default"
SESSION_COOKIE_NAME = "accounts_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

MIDDLEWARE = [
    *MIDDLEWARE,  # noqa: F405
    # After AuthenticationMiddleware: a browser session whose server-side session ended is logged out.
    "accounts.middleware.SessionRegistryMiddleware",
]

# --- tokens (JWT contract shared with every service) --------------------------------------------
AUTH_ISSUER = env_str("AUTH_ISSUER", "catalog-platform-accounts")
AUTH_AUDIENCE = env_str("AUTH_AUDIENCE", "catalog-platform")
ACCOUNTS_ACCESS_TOKEN_TTL = env_int("ACCOUNTS_ACCESS_TOKEN_TTL", 5 * 60)
ACCOUNTS_REFRESH_TOKEN_TTL = env_int("ACCOUNTS_REFRESH_TOKEN_TTL", 14 * 24 * 3600)
# A session may be refreshed forever inside this absolute limit, then the user logs in again.
ACCOUNTS_SESSION_MAX_AGE = env_int("ACCOUNTS_SESSION_MAX_AGE", 30 * 24 * 3600)
ACCOUNTS_TOKEN_LEEWAY = env_int("ACCOUNTS_TOKEN_LEEWAY", 10)
SESSION_COOKIE_AGE = ACCOUNTS_REFRESH_TOKEN_TTL

# Signing keys. Either one static key from the environment (PEM text or a file), with older
# public-serving keys in ACCOUNTS_PREVIOUS_SIGNING_KEYS_FILES, or a key directory managed by
# `manage.py rotate_signing_key` (the default). See docs/accounts.md.
ACCOUNTS_SIGNING_KEY_PEM = env_str("ACCOUNTS_SIGNING_KEY_PEM") or (
    Path(env_str("ACCOUNTS_SIGNING_KEY_FILE")).read_text() if env_str("ACCOUNTS_SIGNING_KEY_FILE") else ""
)
ACCOUNTS_PREVIOUS_SIGNING_KEYS_FILES = env_list("ACCOUNTS_PREVIOUS_SIGNING_KEYS_FILES", [])
ACCOUNTS_SIGNING_KEYS_DIR = env_str("ACCOUNTS_SIGNING_KEYS_DIR", str(REPO_ROOT / ".run" / "keys"))
ACCOUNTS_SIGNING_KEYS_AUTOCREATE = False  # dev turns this on; production keys are provisioned on purpose
ACCOUNTS_RSA_KEY_BITS = 2048

# --- brute-force protection (failed logins counted in Redis, accounts/throttle.py) ------------
ACCOUNTS_LOGIN_WINDOW_SECONDS = env_int("ACCOUNTS_LOGIN_WINDOW_SECONDS", 15 * 60)
# Per (account, client address): that address is locked out of that account for the window.
ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("ACCOUNTS_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
# Per account from anywhere: past this many failures, each failure pauses the account 2, 4, 8 ... s.
ACCOUNTS_LOGIN_BACKOFF_AFTER = env_int("ACCOUNTS_LOGIN_BACKOFF_AFTER", 20)
ACCOUNTS_LOGIN_MAX_BACKOFF_SECONDS = env_int("ACCOUNTS_LOGIN_MAX_BACKOFF_SECONDS", 30)
ACCOUNTS_LOGIN_MAX_FAILURES_PER_IP = env_int("ACCOUNTS_LOGIN_MAX_FAILURES_PER_IP", 20)
ACCOUNTS_REGISTRATIONS_PER_IP = env_int("ACCOUNTS_REGISTRATIONS_PER_IP", 20)
# How many reverse proxies (e.g. the gateway) put the client address in X-Forwarded-For. 0 = use
# ACCOUNTS_TRUSTED_PROXIES: X-Forwarded-For is believed only from these peers (the gateway's
# address or network; loopback by default, where `manage_all.py up` runs the gateway).
ACCOUNTS_TRUSTED_PROXY_COUNT = env_int("ACCOUNTS_TRUSTED_PROXY_COUNT", 0)
ACCOUNTS_TRUSTED_PROXIES = env_list("ACCOUNTS_TRUSTED_PROXIES", ["127.0.0.1/32", "::1/128"])
