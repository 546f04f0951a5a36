"""Who is calling the accounts GraphQL API: a bearer access token, or the browser session cookie.

Accounts verifies its own tokens with its own keys (no JWKS round trip) but applies the same
checks as every other service: RS256 + kid, iss, aud, exp/nbf, typ=access, and the registry
(session alive, user active, token not revoked) in one Redis round trip. What the caller may do
is read from this service's own database, never from the token's `perms` claim: a removed role
stops working here at once, not when the token expires.
Cookie-authenticated calls must pass Django's CSRF check (X-CSRFToken header), since the
GraphQL view itself is CSRF-exempt for bearer clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from common.auth import registry
from common.errors import Unauthenticated
from common.events.context import set_actor
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware

from accounts import tokens
from accounts.queries import current_perms
from accounts.web import SESSION_ID_KEY


@dataclass(frozen=True)
class Principal:
    user_id: str
    session_id: str
    via: str  # "bearer" or "cookie"
    jti: str | None = None
    expires_at: int | None = None

    @cached_property
    def perms(self) -> frozenset[str]:
        """The user's current grants (at most once per request, only when a check needs them)."""
        return current_perms(self.user_id)

    def has_perm(self, perm: str) -> bool:
        return perm in self.perms


@dataclass(frozen=True)
class AuthResult:
    principal: Principal | None
    error: str | None = None  # why credentials that were sent are not accepted


def _csrf_probe(request: HttpRequest) -> HttpResponse:  # a non-exempt "view" for the CSRF check
    return HttpResponse()


def _csrf_passes(request: HttpRequest) -> bool:
    return CsrfViewMiddleware(_csrf_probe).process_view(request, _csrf_probe, (), {}) is None


def _from_bearer(header: str) -> AuthResult:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return AuthResult(None, "Malformed Authorization header: expected 'Bearer <token>'.")
    try:
        claims = tokens.decode(token.strip(), typ=tokens.ACCESS)
    except tokens.TokenError as error:
        return AuthResult(None, str(error))
    reason = registry.check_token_state(session_id=str(claims["sid"]), user_id=str(claims["sub"]), jti=str(claims["jti"]))
    if reason:
        return AuthResult(None, f"Token rejected: {reason}.")
    return AuthResult(
        Principal(
            user_id=str(claims["sub"]),
            session_id=str(claims["sid"]),
            via="bearer",
            jti=str(claims["jti"]),
            expires_at=int(claims["exp"]),
        )
    )


def _from_cookie(request: HttpRequest) -> AuthResult:
    # SessionRegistryMiddleware already logged out browsers whose session ended.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES or not request.user.is_authenticated:
        return AuthResult(None)
    session_id = request.session.get(SESSION_ID_KEY)
    if not session_id:
        return AuthResult(None)
    if not _csrf_passes(request):
        return AuthResult(None, "CSRF check failed: send the csrftoken cookie value in the X-CSRFToken header.")
    return AuthResult(Principal(user_id=str(request.user.pk), session_id=str(session_id), via="cookie"))


def authenticate_request(request: HttpRequest) -> AuthResult:
    cached = getattr(request, "_accounts_auth", None)
    if cached is None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        cached = _from_bearer(header) if header else _from_cookie(request)
        request._accounts_auth = cached  # type: ignore[attr-defined]
        if cached.principal is not None:
            set_actor(cached.principal.user_id)  # events recorded from now on act for the caller
    return cached


def principal(info: Any) -> Principal | None:
    return authenticate_request(info.context["request"]).principal


def require_principal(info: Any) -> Principal:
    result = authenticate_request(info.context["request"])
    if result.principal is None:
        raise Unauthenticated(result.error or "Authentication required.")
    return result.principal
