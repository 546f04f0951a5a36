"""Query resolvers of the accounts subgraph."""

from __future__ import annotations

from typing import Any

from ariadne import QueryType
from common.errors import Unauthenticated
from graphql import GraphQLResolveInfo

from accounts.authentication import authenticate_request
from accounts.models import User
from accounts.queries import user_with_roles

query = QueryType()


@query.field("me")
def resolve_me(_: Any, info: GraphQLResolveInfo) -> User | None:
    result = authenticate_request(info.context["request"])
    if result.principal is None:
        if result.error:  # credentials were sent but are not good: tell the client (refresh or log in)
            raise Unauthenticated(result.error)
        return None
    user = user_with_roles(result.principal.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("User is inactive.")
    return user
