"""Object-level permissions with django-guardian, for objects that have an owner.

The cart and the orders use this: when a customer creates an order, the service grants the
owner `view_order` on that object (`grant_object_permission`), and resolvers check
`require_object_permission(info, "orders.view_order", order)`. Staff with the model-wide
permission (`orders.view_order` through the order_manager role) pass for every object; a staff
member can also be granted access to one specific object. `admin` passes everything.

Object grants are stored against the local replica user (its id is the accounts user id).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from graphql import GraphQLResolveInfo
from guardian.shortcuts import assign_perm, remove_perm

from common.auth.principal import Principal, principal_from_info
from common.errors import PermissionDenied, Unauthenticated


def _replica_user(user_id: str) -> Any | None:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def has_object_permission(principal: Principal, perm: str, obj: models.Model) -> bool:
    """`perm` ("app_label.codename") on `obj`: model-wide permission, or a guardian object grant."""
    if not principal.is_authenticated:
        return False
    if principal.has_perms([perm]):  # includes admin
        return True
    user = _replica_user(principal.user_id or "")
    if user is None:
        return False
    from guardian.core import ObjectPermissionChecker

    return ObjectPermissionChecker(user).has_perm(perm, obj)


def require_object_permission(info: GraphQLResolveInfo, perm: str, obj: models.Model) -> Principal:
    principal = principal_from_info(info)
    if not principal.is_authenticated:
        raise Unauthenticated()
    if not has_object_permission(principal, perm, obj):
        raise PermissionDenied()
    return principal


def grant_object_permission(*, user_id: str, perm: str, obj: models.Model) -> None:
    """Give one user `perm` on one object (e.g. the owner of a new order). Needs the replica row."""
    from django.contrib.auth import get_user_model

    assign_perm(perm, get_user_model().objects.get(pk=user_id), obj)


def revoke_object_permission(*, user_id: str, perm: str, obj: models.Model) -> None:
    from django.contrib.auth import get_user_model

    remove_perm(perm, get_user_model().objects.get(pk=user_id), obj)
