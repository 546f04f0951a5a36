"""Authorization for resolvers, the same for graphene and ariadne.

    @login_required                              # any signed-in user
    @roles_required("catalog_manager", "admin")  # RBAC: at least one of these roles
    @permission_required("catalog.add_product")  # PBAC: every one of these permissions

They decorate anything called with a GraphQL `info` argument: graphene `mutate`/`resolve_*`
(static, class or plain methods) and ariadne resolvers `(obj, info, **kwargs)`, sync or async.
Anonymous callers get `UNAUTHENTICATED`; signed-in callers lacking a role or permission get
`FORBIDDEN`. The `admin` role passes every check. The same checks exist as plain functions
(`require_login(info)`, ...) for code that decides at run time.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from graphql import GraphQLResolveInfo

from common.auth.principal import Principal, principal_from_info
from common.errors import PermissionDenied, Unauthenticated

Resolver = TypeVar("Resolver", bound=Callable[..., Any])
Check = Callable[[Principal], None]


def _find_info(args: tuple[Any, ...], kwargs: dict[str, Any]) -> GraphQLResolveInfo:
    for value in (*args, kwargs.get("info")):
        if isinstance(value, GraphQLResolveInfo):
            return value
    raise TypeError("An auth decorator was applied to a function that does not receive GraphQL `info`.")


def _guarded(check: Check) -> Callable[[Resolver], Resolver]:
    def decorator(resolver: Any) -> Any:
        # Tolerate either decorator order with @staticmethod / @classmethod.
        if isinstance(resolver, staticmethod | classmethod):
            return type(resolver)(decorator(resolver.__func__))

        if inspect.iscoroutinefunction(resolver):

            @functools.wraps(resolver)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                # The check may read the user replica (ORM): keep it off the event loop.
                await sync_to_async(check)(principal_from_info(_find_info(args, kwargs)))
                return await resolver(*args, **kwargs)

            return async_wrapper

        @functools.wraps(resolver)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(principal_from_info(_find_info(args, kwargs)))
            return resolver(*args, **kwargs)

        return wrapper

    return decorator


# --- checks ---------------------------------------------------------------------------------------


def check_login(principal: Principal) -> None:
    if not principal.is_authenticated:
        raise Unauthenticated()


def check_roles(principal: Principal, roles: tuple[str, ...]) -> None:
    check_login(principal)
    if not principal.has_any_role(roles):
        raise PermissionDenied(f"This operation needs one of the roles: {', '.join(roles)}.")


def check_perms(principal: Principal, perms: tuple[str, ...]) -> None:
    check_login(principal)
    if not principal.has_perms(perms):
        raise PermissionDenied(f"This operation needs the permission(s): {', '.join(perms)}.")


# --- decorators -------------------------------------------------------------------------------------


def login_required(resolver: Resolver) -> Resolver:
    return _guarded(check_login)(resolver)


def roles_required(*roles: str) -> Callable[[Resolver], Resolver]:
    if not roles:
        raise ValueError("roles_required needs at least one role")
    return _guarded(lambda principal: check_roles(principal, roles))


def permission_required(*perms: str) -> Callable[[Resolver], Resolver]:
    if not perms or any(perm.count(".") != 1 for perm in perms):
        raise ValueError("permission_required needs permissions written `app_label.codename`")
    return _guarded(lambda principal: check_perms(principal, perms))


# --- imperative forms ---------------------------------------------------------------------------------


def require_login(info: GraphQLResolveInfo) -> Principal:
    principal = principal_from_info(info)
    check_login(principal)
    return principal


def require_roles(info: GraphQLResolveInfo, *roles: str) -> Principal:
    principal = principal_from_info(info)
    check_roles(principal, roles)
    return principal


def require_perms(info: GraphQLResolveInfo, *perms: str) -> Principal:
    principal = principal_from_info(info)
    check_perms(principal, perms)
    return principal
