"""Write side of accounts (CQRS commands).

Keyword-only, one transaction each: validate and lock first, then change. Server-side sessions
live in PostgreSQL (source of truth) and are mirrored into the shared Redis registry while the
row lock is held, so registry writes for one session are serialized with its database changes.
Ending is fail-closed: if Redis is unreachable the command fails and nothing is committed.
Events go to the outbox in the same transaction (accounts.events).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from common.auth import registry
from common.errors import FieldErrors, NotFound, Unauthenticated, ValidationFailed
from common.text import display_text_problem
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import events, throttle, tokens
from accounts.models import Session, User, normalize_email
from accounts.queries import Authorization, authorization_of, user_with_roles

DEFAULT_ROLE = "customer"
ROLES = ("customer", "catalog_manager", "order_manager", "admin")
MAX_PASSWORD_LENGTH = 512  # Argon2 hashes anything, but megabyte passwords are a cheap DoS


@dataclass(frozen=True)
class IssuedSession:
    session: Session
    user: User
    access: tokens.IssuedToken
    refresh: tokens.IssuedToken


# --- registration ------------------------------------------------------------------------------


def _password_errors(password: str, user: User) -> list[str]:
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"At most {MAX_PASSWORD_LENGTH} characters."]
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        return list(error.messages)
    return []


def register_user(*, email: str, password: str, full_name: str = "", address: str = "unknown") -> User:
    """Create a customer account. ValidationFailed for invalid fields.

    A taken email answers exactly like a new registration (same shape, same work: the password
    is hashed either way), so `register` tells nobody which emails have accounts; the owner is
    told instead, by `accounts.user.registration_attempted` (for a notification email)."""
    email = normalize_email(email)
    full_name = (full_name or "").strip()
    errors = FieldErrors()
    try:
        validate_email(email)
    except ValidationError:
        errors.add("email", "Enter a valid email address.")
    if len(full_name) > 150:
        errors.add("full_name", "At most 150 characters.")
    elif display_text_problem(full_name):
        errors.add("full_name", display_text_problem(full_name))  # type: ignore[arg-type]
    for message in _password_errors(password, User(email=email, full_name=full_name)):
        errors.add("password", message)
    errors.raise_if_any()
    throttle.count_registration(address=address)
    with transaction.atomic():
        existing = User.objects.filter(email=email).first()
        if existing is not None:
            make_password(password)
            events.user_event(events.USER_REGISTRATION_ATTEMPTED, existing, authorization_of(existing))
            return _unregistered_lookalike(email=email, full_name=full_name)
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, password=password, full_name=full_name)
        except IntegrityError:  # a concurrent registration won the unique index: the same answer
            return _unregistered_lookalike(email=email, full_name=full_name)
        user.groups.add(Group.objects.get(name=DEFAULT_ROLE))
        user = user_with_roles(user.pk)
        assert user is not None
        events.user_event(events.USER_REGISTERED, user, authorization_of(user))
    return user


def _unregistered_lookalike(*, email: str, full_name: str) -> User:
    """What a new customer account would look like (never saved): the answer for a taken email."""
    role = Group.objects.get(name=DEFAULT_ROLE)
    perms = tuple(sorted(role.service_permissions.values_list("codename", flat=True)))
    lookalike = User(pk=uuid.uuid4(), email=email, full_name=full_name, is_active=True, date_joined=timezone.now())
    lookalike._authorization = Authorization(roles=(DEFAULT_ROLE,), perms=perms, staff=False, superuser=False)  # type: ignore[attr-defined]
    return lookalike


def record_user_registered(*, user_id: str) -> None:
    """`accounts.user.registered` for a user created outside `register_user` (admin, seed). Call inside a transaction."""
    user = user_with_roles(user_id)
    if user is None:
        raise NotFound("User not found.", id=str(user_id))
    with transaction.atomic():
        events.user_event(events.USER_REGISTERED, user, authorization_of(user))
    if not user.is_active:
        registry.set_user_active(user_id=str(user.pk), active=False)


# --- sessions and tokens -----------------------------------------------------------------------


def _issue_tokens(session: Session, user: User) -> IssuedSession:
    authorization = authorization_of(user)
    not_after = int(session.expires_at.timestamp())
    access = tokens.issue_access_token(
        user_id=str(user.pk), session_id=str(session.pk), email=user.email,
        roles=authorization.roles, perms=authorization.perms, staff=authorization.staff, not_after=not_after,
    )
    refresh = tokens.issue_refresh_token(
        user_id=str(user.pk), session_id=str(session.pk), jti=str(session.refresh_jti), not_after=not_after
    )
    return IssuedSession(session=session, user=user, access=access, refresh=refresh)


def open_session(*, user: User, address: str | None, user_agent: str = "", web_session_key: str = "") -> Session:
    """A new server-side session for an authenticated user (token login, or a Django admin login)."""
    now = timezone.now()
    max_expires = now + timedelta(seconds=settings.ACCOUNTS_SESSION_MAX_AGE)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.is_active:
            raise Unauthenticated("Invalid email or password.")
        session = Session.objects.create(
            user=locked,
            created_at=now,
            last_used_at=now,
            expires_at=min(now + timedelta(seconds=settings.ACCOUNTS_REFRESH_TOKEN_TTL), max_expires),
            max_expires_at=max_expires,
            refresh_jti=uuid.uuid4(),
            user_agent=(user_agent or "")[:300],
            ip_address=address if address and address != "unknown" else None,
            web_session_key=web_session_key,
        )
        # Opened inside the transaction: if it rolls back no token was handed out, so a stray key is harmless.
        registry.open_session(session_id=str(session.pk), user_id=str(user.pk), ttl_seconds=session.seconds_left())
    return session


def login(*, email: str, password: str, address: str, user_agent: str = "") -> IssuedSession:
    """Password login -> new session + access and refresh tokens. One message for every failure (no enumeration)."""
    email = normalize_email(email)
    throttle.check_login(email=email, address=address)
    # ModelBackend hashes a dummy password for unknown emails (same timing) and refuses inactive users.
    too_long = len(password) > MAX_PASSWORD_LENGTH
    user = None if too_long else authenticate(None, username=email, password=password)
    if user is None:
        throttle.login_failed(email=email, address=address)
        raise Unauthenticated("Invalid email or password.")
    throttle.login_succeeded(email=email, address=address)
    session = open_session(user=user, address=address, user_agent=user_agent)
    loaded = user_with_roles(user.pk)
    assert loaded is not None
    return _issue_tokens(session, loaded)


def refresh_session(*, refresh_token: str) -> IssuedSession:
    """Rotate: the presented refresh token dies, a new pair is issued. A reused token ends the session."""
    try:
        claims = tokens.decode(refresh_token, typ=tokens.REFRESH)
    except tokens.TokenError as error:
        raise Unauthenticated(str(error))
    reused = False
    with transaction.atomic():
        session = (
            Session.objects.select_for_update().select_related("user")
            .filter(pk=claims["sid"], user_id=claims["sub"]).first()
        )
        if session is None or not session.is_alive or not session.user.is_active:
            raise Unauthenticated("Session ended.")
        if str(session.refresh_jti) != claims["jti"]:
            # An older refresh token of this session: someone holds a copy. End it for everyone.
            _end_locked_session(session, Session.EndReason.REFRESH_REUSE)
            reused = True
        else:
            now = timezone.now()
            session.refresh_jti = uuid.uuid4()
            session.refresh_count += 1
            session.last_used_at = now
            session.expires_at = min(now + timedelta(seconds=settings.ACCOUNTS_REFRESH_TOKEN_TTL), session.max_expires_at)
            session.save(update_fields=["refresh_jti", "refresh_count", "last_used_at", "expires_at"])
            # Safe to (re)open under the row lock: every path that ends this session takes the same lock.
            registry.open_session(session_id=str(session.pk), user_id=str(session.user_id), ttl_seconds=session.seconds_left())
            user = user_with_roles(session.user_id)
            assert user is not None
            issued = _issue_tokens(session, user)
    if reused:  # raised after commit, so the revocation sticks
        raise Unauthenticated("Refresh token already used: the session has been ended.")
    return issued


def attach_web_session(*, session_id: str, web_session_key: str) -> None:
    Session.objects.filter(pk=session_id).update(web_session_key=web_session_key)


def _destroy_web_session(session_key: str) -> None:
    if session_key:
        import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).delete()


def _end_locked_session(session: Session, reason: str) -> None:
    session.revoked_at = timezone.now()
    session.revoke_reason = reason
    session.refresh_jti = None
    session.save(update_fields=["revoked_at", "revoke_reason", "refresh_jti"])
    registry.end_session(session_id=str(session.pk))
    _destroy_web_session(session.web_session_key)
    events.session_revoked(session)


def end_session(*, session_id: str, reason: str = Session.EndReason.LOGOUT) -> bool:
    """End one session: all its access and refresh tokens (and its browser login) stop working everywhere."""
    with transaction.atomic():
        session = Session.objects.select_for_update().filter(pk=session_id).first()
        if session is None:
            raise NotFound("Session not found.")
        if session.revoked_at is not None:
            registry.end_session(session_id=str(session.pk))  # keep the mirror honest, e.g. after a restore
            return False
        _end_locked_session(session, reason)
    return True


def end_user_sessions(*, user_id: str, reason: str, except_session: str | None = None) -> int:
    """End every live session of a user (but `except_session`); returns how many were ended."""
    with transaction.atomic():
        sessions = list(
            Session.objects.select_for_update()
            .filter(user_id=user_id, revoked_at__isnull=True)
            .exclude(pk=except_session)
            .order_by("pk")  # same lock order everywhere: no deadlocks between two of these
        )
        for session in sessions:
            _end_locked_session(session, reason)
        # Also drops registry entries whose rows were lost or ended without the mirror (belt and braces).
        registry.end_user_sessions(user_id=str(user_id), except_session=str(except_session) if except_session else None)
    return len(sessions)


def change_password(
    *, user_id: str, current_password: str, new_password: str, current_session: str | None, address: str = "unknown"
) -> int:
    """Set a new password and end every other session; returns how many sessions were ended.
    The current-password check spends the login budget of this account from this address."""
    email = User.objects.filter(pk=user_id).values_list("email", flat=True).first()
    if email is None:
        raise Unauthenticated("Authentication required.")
    throttle.check_password_attempt(email=email, address=address)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None:
            raise Unauthenticated("Authentication required.")
        if len(current_password) > MAX_PASSWORD_LENGTH or not user.check_password(current_password):
            throttle.password_attempt_failed(email=email, address=address)
            raise ValidationFailed("Current password is incorrect.", fields={"current_password": ["Incorrect password."]})
        errors = FieldErrors()
        for message in _password_errors(new_password, user):
            errors.add("new_password", message)
        if new_password == current_password:
            errors.add("new_password", "Choose a password different from the current one.")
        errors.raise_if_any()
        user.set_password(new_password)
        user.save(update_fields=["password"])
        return end_user_sessions(user_id=str(user.pk), reason=Session.EndReason.PASSWORD_CHANGED, except_session=current_session)


# --- user lifecycle (GraphQL admin paths, Django admin, management commands) ------------------


def _locked_user(user_id: str) -> User:
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found.", id=str(user_id))
    return user


def deactivate_user(*, user_id: str) -> User:
    """Block a user at once: inactive in the registry (every service rejects their tokens), sessions ended."""
    with transaction.atomic():
        user = _locked_user(user_id)
        registry.set_user_active(user_id=str(user.pk), active=False)  # also when already inactive: heal the mirror
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
            end_user_sessions(user_id=str(user.pk), reason=Session.EndReason.DEACTIVATED)
            loaded = user_with_roles(user.pk)
            assert loaded is not None
            events.user_event(events.USER_DEACTIVATED, loaded, authorization_of(loaded))
    return user


def reactivate_user(*, user_id: str) -> User:
    with transaction.atomic():
        user = _locked_user(user_id)
        if not user.is_active:
            user.is_active = True
            user.save(update_fields=["is_active"])
            loaded = user_with_roles(user.pk)
            assert loaded is not None
            events.user_event(events.USER_REACTIVATED, loaded, authorization_of(loaded))
        registry.set_user_active(user_id=str(user.pk), active=True)
    return user


def set_user_roles(*, user_id: str, roles: list[str]) -> User:
    """Replace a user's roles (groups). Tokens issued from now on carry them; replicas learn via the event."""
    wanted = sorted(set(roles))
    with transaction.atomic():
        user = _locked_user(user_id)
        groups = list(Group.objects.filter(name__in=wanted))
        unknown = sorted(set(wanted) - {group.name for group in groups})
        if unknown:
            raise ValidationFailed("Unknown role.", fields={"roles": [f"No role named {name!r}." for name in unknown]})
        before = authorization_of(user_with_roles(user.pk))  # type: ignore[arg-type]
        user.groups.set(groups)
        record_authorization_changed(user_id=str(user.pk), before=before)
    return user


def record_authorization_changed(*, user_id: str, before: Authorization) -> bool:
    """Record `accounts.user.roles_changed` if roles, permissions or staff status differ from `before`.

    Called by set_user_roles and by the Django admin after it saved a user or a role.
    """
    user = user_with_roles(user_id)
    if user is None:
        return False
    after = authorization_of(user)
    if after == before:
        return False
    events.user_event(
        events.USER_ROLES_CHANGED, user, after, previous={"roles": list(before.roles), "perms": list(before.perms)}
    )
    return True
