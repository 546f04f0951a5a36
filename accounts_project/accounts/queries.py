"""Read side of accounts (CQRS queries): users with their roles and cross-service permissions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db.models import Prefetch, QuerySet

from accounts.models import ServicePermission, Session, User


@dataclass(frozen=True)
class Authorization:
    """What a user may do, as it goes into tokens and account events."""

    roles: tuple[str, ...]
    perms: tuple[str, ...]
    staff: bool
    superuser: bool


def users_with_roles() -> QuerySet[User]:
    """Users with groups and each group's service permissions prefetched (3 queries for any number)."""
    return User.objects.prefetch_related(
        Prefetch("groups", queryset=Group.objects.order_by("name").prefetch_related("service_permissions"))
    )


def authorization_of(user: User, *, all_permissions: Iterable[str] | None = None) -> Authorization:
    """Roles and permission strings of a user. Superusers hold every service permission."""
    groups = list(user.groups.all())
    roles = tuple(sorted(group.name for group in groups))
    if user.is_superuser:
        if all_permissions is None:
            all_permissions = ServicePermission.objects.values_list("codename", flat=True)
        perms = set(all_permissions)
    else:
        perms = {permission.codename for group in groups for permission in group.service_permissions.all()}
    return Authorization(roles=roles, perms=tuple(sorted(perms)), staff=user.is_staff, superuser=user.is_superuser)


def current_perms(user_id: uuid.UUID | str) -> frozenset[str]:
    """The permission strings a user holds right now (two small queries); none when inactive or gone."""
    row = User.objects.filter(pk=user_id).values_list("is_active", "is_superuser").first()
    if row is None or not row[0]:
        return frozenset()
    permissions = ServicePermission.objects.all() if row[1] else ServicePermission.objects.filter(groups__user=user_id)
    return frozenset(permissions.values_list("codename", flat=True).distinct())


def user_with_roles(user_id: uuid.UUID | str) -> User | None:
    return users_with_roles().filter(pk=user_id).first()


def users_by_ids(ids: Iterable[object]) -> dict[str, User]:
    """Batch load for federation `_entities`: {str(id): user}; unknown or malformed ids are left out."""
    valid = []
    for raw in ids:
        try:
            valid.append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    if not valid:
        return {}
    return {str(user.pk): user for user in users_with_roles().filter(pk__in=valid)}


def alive_sessions_of(user: User) -> QuerySet[Session]:
    return Session.objects.alive().filter(user=user).order_by("-last_used_at")
