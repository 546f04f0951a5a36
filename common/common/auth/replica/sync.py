"""Applying accounts user events to the replica (the write side of this read model).

Idempotent and order-safe: every event carries `occurred_at`; an event older than the
row's `synced_at` changes nothing, and applying the same event twice gives the same row.
(The event backbone also de-duplicates by event id; this makes replays and rebuilds safe too.)

Accounts puts a full user snapshot in every user event (`payload["user"]`: id, email,
is_active, is_staff, is_superuser, roles, perms, ...), so any single event is enough to
upsert the row. Fields read (whichever are present): `email`, `roles`, `perms` (or
`permissions`), `is_staff` (or `staff`), `is_superuser`, `is_active`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from common.auth.replica.models import User
from common.auth.roles import ADMIN
from common.auth.tokens import AccessClaims

logger = logging.getLogger("common.auth.replica")

# Model state (accounts' bridge) and domain events: every one carries the full snapshot.
CREATED = "accounts.user.created"
UPDATED = "accounts.user.updated"
DELETED = "accounts.user.deleted"
REGISTERED = "accounts.user.registered"
DEACTIVATED = "accounts.user.deactivated"
REACTIVATED = "accounts.user.reactivated"
ROLES_CHANGED = "accounts.user.roles_changed"
USER_EVENTS = (CREATED, UPDATED, DELETED, REGISTERED, DEACTIVATED, REACTIVATED, ROLES_CHANGED)


def parse_time(value: Any) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _placeholder_email(user_id: str) -> str:
    return f"{user_id}@replica.invalid"


@transaction.atomic
def apply_user_event(*, event_type: str, user_id: str, occurred_at: Any, payload: Mapping[str, Any]) -> bool:
    """Bring the replica row of `user_id` up to this event. Returns False when it was older."""
    if event_type not in USER_EVENTS:
        logger.debug("Ignoring %s for user %s", event_type, user_id)
        return False
    snapshot = dict(payload.get("user") if isinstance(payload.get("user"), Mapping) else payload)
    if event_type in (DEACTIVATED, DELETED):
        snapshot["is_active"] = False
    elif event_type == REACTIVATED:
        snapshot["is_active"] = True
    return _apply(user_id=str(user_id), moment=parse_time(occurred_at), snapshot=snapshot, source=event_type) is not None


@transaction.atomic
def apply_token_claims(claims: AccessClaims) -> User:
    """The replica row for a *fully verified* access token (admin sign-in), brought up to it.

    A verified token states what accounts knew at its `iat`, and its user was active a moment
    ago (registry check). It updates the row only when newer than the last event applied, so
    it fills the gap when events are late and never undoes a later change.
    """
    snapshot = {
        "email": claims.email,
        "is_staff": claims.staff,
        "is_active": True,
        "roles": sorted(claims.roles),
        "perms": sorted(claims.perms),
    }
    moment = dt.datetime.fromtimestamp(claims.issued_at, tz=dt.UTC)
    return _apply(user_id=claims.user_id, moment=moment, snapshot=snapshot, source="token") or User.objects.get(
        pk=claims.user_id
    )


def _apply(*, user_id: str, moment: dt.datetime, snapshot: Mapping[str, Any], source: str) -> User | None:
    user_id = str(uuid.UUID(user_id))
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is not None and user.synced_at is not None and moment < user.synced_at:
        logger.info("Skipping %s for %s: older than the replica (%s < %s)", source, user_id, moment, user.synced_at)
        return None
    created = user is None
    if created:
        user = User(id=user_id, email=_placeholder_email(user_id))
        user.set_unusable_password()

    email = snapshot.get("email")
    if email:
        _free_email(email, keep=user_id)
        user.email = User.objects.normalize_email(email)
    staff = snapshot.get("is_staff", snapshot.get("staff"))
    if isinstance(staff, bool):
        user.is_staff = staff
    if isinstance(snapshot.get("is_active"), bool):
        user.is_active = snapshot["is_active"]

    roles = snapshot.get("roles")
    perms = snapshot.get("perms", snapshot.get("permissions"))
    grants_changed = False
    if isinstance(roles, list):
        grants_changed |= sorted(set(roles)) != sorted(user.roles)
        user.roles = sorted(set(roles))
        user.is_superuser = ADMIN in user.roles or bool(snapshot.get("is_superuser", False))
    if isinstance(perms, list):
        grants_changed |= sorted(set(perms)) != sorted(user.permissions)
        user.permissions = sorted(set(perms))
    user.synced_at = moment
    user.save()
    if created or grants_changed:
        _sync_django_grants(user)
    return user


def _free_email(email: str, *, keep: str) -> None:
    # Accounts keeps emails unique; if one moved to another account, the older row lets go of it.
    for stale in User.objects.select_for_update().filter(email__iexact=email).exclude(pk=keep):
        stale.email = _placeholder_email(str(stale.pk))
        stale.save(update_fields=["email"])


def _sync_django_grants(user: User) -> None:
    """Mirror roles into Django groups and permissions into local Permission rows, so that the
    admin (ModelBackend) and guardian see them. Permissions of other services have no local
    row and are only kept in `user.permissions`."""
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in user.roles])
    user.user_permissions.set(local_permissions(user.permissions))


def local_permissions(perms: Iterable[str]) -> list[Permission]:
    query = Q()
    for perm in perms:
        app_label, _, codename = perm.partition(".")
        if app_label and codename:
            query |= Q(content_type__app_label=app_label, codename=codename)
    if not query:
        return []
    return list(Permission.objects.filter(query))


def forget_sync_positions() -> None:
    """Before a replay of the accounts events: let every event apply again (rows are kept)."""
    User.objects.update(synced_at=None)
