"""Browser sessions: the Django session cookie (HttpOnly, SameSite, stored in Redis) bound to a server-side Session.

The Django session remembers the accounts session id under SESSION_ID_KEY. Ending the server-side
session deletes the Django session; SessionRegistryMiddleware also logs out any browser whose
session is no longer alive in the registry.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.auth import login as django_login
from django.http import HttpRequest
from django.middleware.csrf import get_token

from accounts import commands
from accounts.models import Session, User

SESSION_ID_KEY = "accounts_sid"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def start_browser_session(request: HttpRequest, user: User, session: Session) -> None:
    """Log the browser in with the session that the token login just opened."""
    request.accounts_session_id = str(session.pk)  # type: ignore[attr-defined]  # the login hook must not open another
    django_login(request, user, backend=MODEL_BACKEND)  # rotates the session key (no fixation) and the CSRF token
    bind_browser_session(request, session)
    get_token(request)  # sets the CSRF cookie cookie-authenticated GraphQL calls echo in X-CSRFToken


def bind_browser_session(request: HttpRequest, session: Session) -> None:
    request.session[SESSION_ID_KEY] = str(session.pk)
    request.session.set_expiry(session.expires_at)
    request.session.save()
    commands.attach_web_session(session_id=str(session.pk), web_session_key=request.session.session_key or "")


def keep_browser_session_after_password_change(request: HttpRequest, user: User, session_id: str) -> None:
    """Django ends browser sessions whose password hash is stale; keep the one that changed the password."""
    if request.session.get(SESSION_ID_KEY) == session_id:
        request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        return
    key = Session.objects.filter(pk=session_id).values_list("web_session_key", flat=True).first()
    if key:
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
        if store.exists(key):
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.save(must_create=False)
