"""Settings every service that verifies accounts tokens uses (all but accounts itself).

    from common.auth.service_settings import *  # noqa: F403
    from common.auth.service_settings import REPLICA_APPS, with_auth_middleware
    INSTALLED_APPS = [*SHARED_APPS, *REPLICA_APPS, "myapp"]
    MIDDLEWARE = with_auth_middleware(MIDDLEWARE)
"""

from __future__ import annotations

AUTH_MIDDLEWARE = "common.auth.middleware.AuthMiddleware"
REPLICA_APPS = ["guardian", "common.auth.replica"]

# Local users are the replica of accounts users (UUID primary key = accounts user id).
AUTH_USER_MODEL = "replica.User"
AUTHENTICATION_BACKENDS = [
    # Admin sign-in with accounts credentials or an accounts token.
    "common.auth.backends.AccountsBackend",
    # Local break-glass superusers (`createsuperuser`); replica users have no usable password.
    "django.contrib.auth.backends.ModelBackend",
    # Object permissions (django-guardian).
    "guardian.backends.ObjectPermissionBackend",
]
# guardian: no anonymous user row; anonymous callers never hold object permissions.
ANONYMOUS_USER_NAME = None


def with_auth_middleware(middleware: list[str]) -> list[str]:
    """The middleware list with AuthMiddleware right after Django's AuthenticationMiddleware."""
    result = [entry for entry in middleware if entry != AUTH_MIDDLEWARE]
    anchor = "django.contrib.auth.middleware.AuthenticationMiddleware"
    position = result.index(anchor) + 1 if anchor in result else len(result)
    result.insert(position, AUTH_MIDDLEWARE)
    return result
