"""`AuthMiddleware`: sets `request.auth` (a Principal) on every request.

- No `Authorization` header: anonymous; each operation decides whether that is enough.
- `Authorization: Bearer <valid access token>`: the token's principal.
- A header that is present but not a valid, live access token: the request is rejected at
  once with a GraphQL `UNAUTHENTICATED` error. It is never downgraded to anonymous: a client
  whose token expired must learn that (and refresh) rather than silently see public data.
  The response is HTTP 200 with a GraphQL body (GraphQL-over-HTTP for application/json, and
  what the federation gateway passes through), plus `WWW-Authenticate` (RFC 6750).

While the request runs, its caller is the actor of the events it records
(`common.events.context`): the token's user, else the admin session's user, else "system".

It also keeps Django admin sessions opened by single sign-on tied to their accounts session:
when that session ends or the user is deactivated the admin session is logged out.
Place it after `AuthenticationMiddleware`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from redis.exceptions import RedisError

from common.auth.principal import ANONYMOUS, Principal
from common.auth.tokens import InvalidToken, token_state, verify_access_token
from common.errors import Unauthenticated
from common.events.context import actor_scope
from common.graphql.errors import format_error

logger = logging.getLogger("common.auth")

# Keys in the Django session of an admin signed in through accounts (see common.auth.views).
SSO_SESSION_KEYS = ("_accounts_sid", "_accounts_uid", "_accounts_jti")


class AuthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("Authorization")
        if header is None:
            request.auth = ANONYMOUS
        else:
            try:
                request.auth = Principal(verify_access_token(bearer_token(header)))
            except InvalidToken as exc:
                logger.info("Rejected access token: %s", exc.reason)
                return unauthenticated_response(exc.message)
        enforce_sso_session(request)
        with actor_scope(request_actor(request)):
            return self.get_response(request)


def request_actor(request: HttpRequest) -> str | None:
    """The user a request acts for: the bearer token's, else the (admin) session's, else None."""
    if request.auth.is_authenticated:
        return request.auth.user_id
    # Without a session cookie there is no session user: do not load one.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return None
    user = getattr(request, "user", None)
    return str(user.pk) if user is not None and user.is_authenticated else None


def bearer_token(header: str) -> str:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("The Authorization header must be `Bearer <access token>`.", "not a bearer header")
    return token.strip()


def unauthenticated_response(message: str) -> JsonResponse:
    body = {"data": None, "errors": [format_error(Unauthenticated(message))]}
    response = JsonResponse(body, status=200)
    response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def enforce_sso_session(request: HttpRequest) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    session_id, user_id, jti = (session.get(key) for key in SSO_SESSION_KEYS)
    if not (session_id and user_id and jti):
        return
    try:
        reason = token_state(session_id=session_id, user_id=user_id, jti=jti)
    except RedisError as exc:
        logger.error("Auth registry unavailable, ending admin session: %s", exc)
        reason = "registry unavailable"
    if reason is not None:
        from django.contrib.auth import logout

        logger.info("Ending admin session of %s: %s", user_id, reason)
        logout(request)
