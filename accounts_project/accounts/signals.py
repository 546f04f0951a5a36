"""Django logins outside GraphQL (the admin's login form) open and end server-side sessions too,
so logoutAllSessions, password changes and deactivation also end admin browser logins."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from accounts import commands, throttle, web
from accounts.models import Session, User


@receiver(user_logged_in, dispatch_uid="accounts.open_session_on_django_login")
def open_session_on_django_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is None or getattr(request, "accounts_session_id", None):
        return  # the GraphQL login already opened (and binds) its session
    session = commands.open_session(
        user=user, address=throttle.client_address(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
    )
    request.accounts_session_id = str(session.pk)  # type: ignore[attr-defined]
    web.bind_browser_session(request, session)


@receiver(user_logged_out, dispatch_uid="accounts.end_session_on_django_logout")
def end_session_on_django_logout(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if request is None or getattr(request, "accounts_ending_session", False):
        return
    session_id = request.session.get(web.SESSION_ID_KEY)
    if session_id and Session.objects.filter(pk=session_id, revoked_at__isnull=True).exists():
        commands.end_session(session_id=session_id, reason=Session.EndReason.LOGOUT)
