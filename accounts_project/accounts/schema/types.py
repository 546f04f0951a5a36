"""Object types of the accounts subgraph: the federated User entity, Session, DateTime.

The schema converts names (`convert_names_case=True`): `createdAt` reads `created_at`, so only
fields that do more than rename (guards, computed values) have resolvers here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from ariadne import ObjectType, ScalarType
from ariadne.contrib.federation import FederatedObjectType
from common.errors import PermissionDenied
from graphql import GraphQLResolveInfo

from accounts.authentication import principal
from accounts.models import ServicePermission, Session, User
from accounts.queries import Authorization, alive_sessions_of, authorization_of, users_by_ids

VIEW_USER = "accounts.view_user"

datetime_scalar = ScalarType("DateTime")
user_type = FederatedObjectType("User")
session_type = ObjectType("Session")


@datetime_scalar.serializer
def serialize_datetime(value: datetime) -> str:
    return value.isoformat()


def is_self(info: GraphQLResolveInfo, user: User) -> bool:
    """The caller is this user (signed in as them, or just registered/logged in as them in this request)."""
    caller = principal(info)
    return (caller is not None and caller.user_id == str(user.pk)) or str(user.pk) in info.context["self_user_ids"]


def owner_or_perm(resolver: Callable[..., Any]) -> Callable[..., Any]:
    """Personal data: only the user themself or holders of accounts.view_user (FORBIDDEN otherwise)."""

    @wraps(resolver)
    def guarded(user: User, info: GraphQLResolveInfo, **kwargs: Any) -> Any:
        caller = principal(info)
        if not is_self(info, user) and not (caller is not None and caller.has_perm(VIEW_USER)):
            raise PermissionDenied("Only the user themself or staff with accounts.view_user may see this.")
        if getattr(user, "_unknown_user", False):  # an id nobody has (see schema.unknown_user)
            return None
        return resolver(user, info, **kwargs)

    return guarded


def authorization(user: User, info: GraphQLResolveInfo) -> Authorization:
    """Computed once per user object; superusers share one per-request list of every permission."""
    cached = getattr(user, "_authorization", None)
    if cached is None:
        everything = None
        if user.is_superuser:
            everything = info.context.get("all_service_permissions")
            if everything is None:
                everything = list(ServicePermission.objects.values_list("codename", flat=True))
                info.context["all_service_permissions"] = everything
        cached = authorization_of(user, all_permissions=everything)
        user._authorization = cached  # type: ignore[attr-defined]
    return cached


@user_type.field("email")
@owner_or_perm
def resolve_email(user: User, info: GraphQLResolveInfo) -> str:
    return user.email


@user_type.field("fullName")
@owner_or_perm
def resolve_full_name(user: User, info: GraphQLResolveInfo) -> str:
    return user.full_name


@user_type.field("isActive")
@owner_or_perm
def resolve_is_active(user: User, info: GraphQLResolveInfo) -> bool:
    return user.is_active


@user_type.field("isStaff")
@owner_or_perm
def resolve_is_staff(user: User, info: GraphQLResolveInfo) -> bool:
    return user.is_staff


@user_type.field("dateJoined")
@owner_or_perm
def resolve_date_joined(user: User, info: GraphQLResolveInfo) -> datetime:
    return user.date_joined


@user_type.field("roles")
@owner_or_perm
def resolve_roles(user: User, info: GraphQLResolveInfo) -> list[str]:
    return list(authorization(user, info).roles)


@user_type.field("permissions")
@owner_or_perm
def resolve_permissions(user: User, info: GraphQLResolveInfo) -> list[str]:
    return list(authorization(user, info).perms)


@user_type.field("sessions")
def resolve_sessions(user: User, info: GraphQLResolveInfo) -> list[Session]:
    if not is_self(info, user):
        raise PermissionDenied("Only the user themself may list their sessions.")
    return list(alive_sessions_of(user))


@user_type.reference_resolver
def resolve_user_reference(_: Any, info: GraphQLResolveInfo, representation: dict[str, Any]) -> User | None:
    # Kept for completeness; `_entities` is replaced by the batched resolver in schema/__init__.py.
    return users_by_ids([representation.get("id")]).get(str(representation.get("id")))


@session_type.field("current")
def resolve_current(session: Session, info: GraphQLResolveInfo) -> bool:
    return str(session.pk) == info.context.get("session_id") or (
        (caller := principal(info)) is not None and caller.session_id == str(session.pk)
    )
