"""Django admin single sign-on with accounts credentials.

`AccountsBackend` authenticates either
- an accounts access token (`authenticate(request, token=...)`, used by the SSO view), or
- an email and password (the standard admin login form), posted to the accounts `login`
  mutation; the returned token is verified like any other.
The user is the local replica row; is_staff, groups and permissions come from the replica, so
a role change reaches the admin through the events. At sign-in the verified token, when newer
than the last event applied, also updates the row (the events may lag behind, or the
`registered` event may not have arrived yet). A deactivated user
is refused at once through the shared registry, even before the event arrives.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from redis.exceptions import RedisError

from common.auth import accounts_client, registry
from common.auth.tokens import AccessClaims, InvalidToken, verify_access_token

logger = logging.getLogger("common.auth")


class AccountsBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> Any | None:
        if token is None:
            if not username or not password:
                return None
            client_ip = request.META.get("REMOTE_ADDR") if request is not None else None
            token = accounts_client.login(email=username, password=password, client_ip=client_ip)
            if token is None:
                return None
        try:
            claims = verify_access_token(token)
        except InvalidToken as exc:
            logger.info("Admin sign-in refused: %s", exc.reason)
            return None
        user = replica_user_for(claims)
        if not self.user_can_authenticate(user):
            return None
        user.accounts_claims = claims  # read by the user_logged_in receiver below
        return user

    def get_user(self, user_id: Any) -> Any | None:
        user = super().get_user(user_id)
        if user is None:
            return None
        try:
            active = registry.is_user_active(str(user.pk))
        except RedisError as exc:
            logger.error("Auth registry unavailable; refusing admin session: %s", exc)
            return None
        return user if active else None


def replica_user_for(claims: AccessClaims) -> Any:
    """The replica row of the token's user, created or refreshed from the verified claims when
    they are newer than the last accounts event applied to it."""
    from common.auth.replica.sync import apply_token_claims

    return apply_token_claims(claims)


def remember_accounts_session(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """On admin login through accounts, tie the Django session to the accounts session."""
    from common.auth.middleware import SSO_SESSION_KEYS

    claims: AccessClaims | None = getattr(user, "accounts_claims", None)
    if claims is None or request is None or not hasattr(request, "session"):
        return
    for key, value in zip(SSO_SESSION_KEYS, (claims.session_id, claims.user_id, claims.token_id), strict=True):
        request.session[key] = value
