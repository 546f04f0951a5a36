"""Who is making the request: `request.auth`, available in every resolver via `principal_from_info`.

The roles and permissions come from the verified access token. When this service keeps a user
replica (`common.auth.replica`) and the replica was updated by an accounts event *after* the
token was issued (a role change), the replica's roles and permissions win: a role change
reaches permission checks as soon as the event is consumed, without waiting for the token
to expire. The replica is read at most once per request, and only when a check needs it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from django.apps import apps

from common.auth.roles import ADMIN
from common.auth.tokens import AccessClaims


class Principal:
    def __init__(self, claims: AccessClaims | None = None) -> None:
        self.claims = claims

    # --- identity -------------------------------------------------------------------------------

    @property
    def is_authenticated(self) -> bool:
        return self.claims is not None

    @property
    def is_anonymous(self) -> bool:
        return self.claims is None

    @property
    def user_id(self) -> str | None:
        return self.claims.user_id if self.claims else None

    @property
    def email(self) -> str:
        return self.claims.email if self.claims else ""

    @property
    def session_id(self) -> str | None:
        return self.claims.session_id if self.claims else None

    @property
    def staff(self) -> bool:
        return self.claims.staff if self.claims else False

    # --- authorization ----------------------------------------------------------------------------

    @property
    def roles(self) -> frozenset[str]:
        return self._grants[0]

    @property
    def perms(self) -> frozenset[str]:
        return self._grants[1]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return self.is_admin or not self.roles.isdisjoint(roles)

    def has_perms(self, perms: Iterable[str]) -> bool:
        return self.is_admin or set(perms) <= self.perms

    @cached_property
    def _grants(self) -> tuple[frozenset[str], frozenset[str]]:
        if self.claims is None:
            return frozenset(), frozenset()
        newer = _replica_grants_newer_than(self.claims.user_id, self.claims.issued_at)
        if newer is not None:
            return newer
        return self.claims.roles, self.claims.perms

    def __repr__(self) -> str:
        return f"<Principal {self.user_id or 'anonymous'}>"


ANONYMOUS = Principal()


def _replica_grants_newer_than(user_id: str, issued_at: int) -> tuple[frozenset[str], frozenset[str]] | None:
    if not apps.is_installed("common.auth.replica"):
        return None
    from common.auth.replica.models import User

    since = dt.datetime.fromtimestamp(issued_at, tz=dt.UTC)
    row = (
        User.objects.filter(pk=user_id, synced_at__gte=since)
        .values_list("is_active", "is_superuser", "roles", "permissions")
        .first()
    )
    if row is None:
        return None
    is_active, is_superuser, roles, permissions = row
    if not is_active:
        return frozenset(), frozenset()
    return frozenset([*roles, *([ADMIN] if is_superuser else [])]), frozenset(permissions)


def principal_from_info(info: Any) -> Principal:
    """The principal of a resolver call, for graphene (context = request) and ariadne
    (context = {"request": request} by default, or any object with `.request`/`.auth`)."""
    return principal_from_context(info.context)


def principal_from_context(context: Any) -> Principal:
    if isinstance(context, Mapping):
        principal = context.get("auth")
        if isinstance(principal, Principal):
            return principal
        request = context.get("request")
    else:
        principal = getattr(context, "auth", None)
        if isinstance(principal, Principal):
            return principal
        request = getattr(context, "request", None)
    principal = getattr(request, "auth", None)
    # No AuthMiddleware in front of this view: nobody is authenticated (fail closed).
    return principal if isinstance(principal, Principal) else ANONYMOUS
