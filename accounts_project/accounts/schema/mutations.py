"""Mutation resolvers: thin, they translate GraphQL arguments into accounts.commands calls."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType
from django.contrib.auth import logout as django_logout
from django.http import HttpRequest
from graphql import GraphQLResolveInfo

from accounts import commands, web
from accounts.authentication import Principal, require_principal
from accounts.models import Session, User
from accounts.throttle import client_address

mutation = MutationType()


def _request(info: GraphQLResolveInfo) -> HttpRequest:
    return info.context["request"]


def _auth_payload(info: GraphQLResolveInfo, issued: commands.IssuedSession) -> dict[str, Any]:
    info.context["self_user_ids"].add(str(issued.user.pk))
    info.context["session_id"] = str(issued.session.pk)
    return {
        "access_token": issued.access.token,
        "access_token_expires_at": issued.access.expires_at,
        "refresh_token": issued.refresh.token,
        "refresh_token_expires_at": issued.refresh.expires_at,
        "token_type": "Bearer",
        "session": issued.session,
        "user": issued.user,
    }


def _end_browser_login(request: HttpRequest, caller: Principal, *, all_sessions: bool) -> None:
    """The server-side session is gone; drop this browser's cookie too when it belonged to it."""
    browser_sid = request.session.get(web.SESSION_ID_KEY)
    if browser_sid and (all_sessions or browser_sid == caller.session_id):
        request.accounts_ending_session = True  # type: ignore[attr-defined]
        django_logout(request)


@mutation.field("register")
def resolve_register(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    user = commands.register_user(
        email=input["email"],
        password=input["password"],
        full_name=input.get("full_name") or "",
        address=client_address(_request(info)),
    )
    info.context["self_user_ids"].add(str(user.pk))
    return {"user": user}


@mutation.field("login")
def resolve_login(_: Any, info: GraphQLResolveInfo, email: str, password: str) -> dict[str, Any]:
    request = _request(info)
    issued = commands.login(
        email=email, password=password, address=client_address(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
    )
    web.start_browser_session(request, issued.user, issued.session)
    return _auth_payload(info, issued)


@mutation.field("refreshToken")
def resolve_refresh_token(_: Any, info: GraphQLResolveInfo, refresh_token: str) -> dict[str, Any]:
    return _auth_payload(info, commands.refresh_session(refresh_token=refresh_token))


@mutation.field("logout")
def resolve_logout(_: Any, info: GraphQLResolveInfo) -> dict[str, int]:
    caller = require_principal(info)
    ended = commands.end_session(session_id=caller.session_id, reason=Session.EndReason.LOGOUT)
    _end_browser_login(_request(info), caller, all_sessions=False)
    return {"ended_sessions": int(ended)}


@mutation.field("logoutAllSessions")
def resolve_logout_all_sessions(_: Any, info: GraphQLResolveInfo) -> dict[str, int]:
    caller = require_principal(info)
    ended = commands.end_user_sessions(user_id=caller.user_id, reason=Session.EndReason.LOGOUT_ALL)
    _end_browser_login(_request(info), caller, all_sessions=True)
    return {"ended_sessions": ended}


@mutation.field("changePassword")
def resolve_change_password(
    _: Any, info: GraphQLResolveInfo, current_password: str, new_password: str
) -> dict[str, int]:
    caller = require_principal(info)
    ended = commands.change_password(
        user_id=caller.user_id, current_password=current_password, new_password=new_password, current_session=caller.session_id,
        address=client_address(_request(info)),
    )
    user = User.objects.get(pk=caller.user_id)
    web.keep_browser_session_after_password_change(_request(info), user, caller.session_id)
    return {"ended_sessions": ended}
