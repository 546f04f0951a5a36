"""Browser sessions follow the server-side session: once it ended (logout elsewhere, password
change, deactivation, theft detection), the next request with that cookie is anonymous."""

from __future__ import annotations

from collections.abc import Callable

from common.auth import registry
from common.events.context import actor_scope
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from accounts.web import SESSION_ID_KEY


class SessionRegistryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            session_id = request.session.get(SESSION_ID_KEY)
            alive = bool(session_id) and registry.check_token_state(
                session_id=str(session_id), user_id=str(request.user.pk), jti="-"
            ) is None
            if not alive:
                request.accounts_ending_session = True  # type: ignore[attr-defined]  # nothing left to end server-side
                logout(request)
        # A browser (admin) session acts for its user; a bearer token sets the actor once verified
        # (accounts.authentication). The scope ends with the request.
        has_cookie = settings.SESSION_COOKIE_NAME in request.COOKIES  # no cookie, no session user to load
        actor = str(request.user.pk) if has_cookie and request.user.is_authenticated else None
        with actor_scope(actor):
            return self.get_response(request)
