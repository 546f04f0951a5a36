"""Auth settings with their defaults, read when used so tests and services can override them.

Every name can be set in a service's Django settings; otherwise the environment variable of
the same name is used, then the default (the shared JWT contract).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from common.settings import env_int, env_str

DEFAULTS: dict[str, Any] = {
    "AUTH_ISSUER": lambda: env_str("AUTH_ISSUER", "catalog-platform-accounts"),
    "AUTH_AUDIENCE": lambda: env_str("AUTH_AUDIENCE", "catalog-platform"),
    "AUTH_JWKS_URL": lambda: env_str("AUTH_JWKS_URL", "http://127.0.0.1:8004/.well-known/jwks.json"),
    # The accounts GraphQL endpoint, used by the admin login form (password sign-in).
    "AUTH_ACCOUNTS_GRAPHQL_URL": lambda: env_str("AUTH_ACCOUNTS_GRAPHQL_URL", "http://127.0.0.1:8004/graphql/"),
    # Clock skew tolerated on exp/nbf/iat.
    "AUTH_LEEWAY_SECONDS": lambda: env_int("AUTH_LEEWAY_SECONDS", 10),
    # How long a session/user/jti check may be reused in-process. Capped at 1 s by design:
    # an ended session or a deactivated user must be rejected everywhere within a second.
    "AUTH_STATE_CACHE_SECONDS": lambda: float(env_str("AUTH_STATE_CACHE_SECONDS", "0.5")),
    # A verified token's signature and claims are reused for this long per process (0 = off); expiry,
    # the JWKS kid and the session state are still checked on every request (common/auth/tokens.py).
    "AUTH_VERIFIED_TOKEN_CACHE_SECONDS": lambda: float(env_str("AUTH_VERIFIED_TOKEN_CACHE_SECONDS", "60")),
    # JWKS: refetched after this age, and at most this often when an unknown kid shows up.
    "AUTH_JWKS_MAX_AGE_SECONDS": lambda: env_int("AUTH_JWKS_MAX_AGE_SECONDS", 300),
    "AUTH_JWKS_MIN_REFRESH_SECONDS": lambda: env_int("AUTH_JWKS_MIN_REFRESH_SECONDS", 10),
    "AUTH_HTTP_TIMEOUT_SECONDS": lambda: float(env_str("AUTH_HTTP_TIMEOUT_SECONDS", "3")),
}

MAX_STATE_CACHE_SECONDS = 1.0


def auth_setting(name: str) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    return DEFAULTS[name]()


def state_cache_seconds() -> float:
    return max(0.0, min(float(auth_setting("AUTH_STATE_CACHE_SECONDS")), MAX_STATE_CACHE_SECONDS))
