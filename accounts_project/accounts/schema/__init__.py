"""The accounts subgraph: schema-first (SDL in *.graphql here), ariadne, Federation v2.6."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ariadne import load_schema_from_path
from ariadne.contrib.federation import make_federated_schema
from common.errors import Unauthenticated
from common.graphql.ariadne_federation import install_batched_entities
from django.http import HttpRequest
from graphql import GraphQLResolveInfo

from accounts.authentication import authenticate_request
from accounts.models import User
from accounts.queries import users_by_ids
from accounts.schema.mutations import mutation
from accounts.schema.query import query as query_type
from accounts.schema.types import datetime_scalar, session_type, user_type

type_defs = load_schema_from_path(str(Path(__file__).parent))

# convert_names_case: camelCase in the SDL, snake_case in Python (arguments, inputs, attributes).
schema = make_federated_schema(
    type_defs, query_type, mutation, user_type, session_type, datetime_scalar, convert_names_case=True
)

UNKNOWN_USER = "_unknown_user"


def unknown_user(user_id: uuid.UUID) -> User:
    """Stands in for an id nobody has: it answers exactly like a user the caller may not see."""
    placeholder = User(pk=user_id)
    setattr(placeholder, UNKNOWN_USER, True)
    return placeholder


def load_users(representations: list[Mapping[str, Any]], info: GraphQLResolveInfo) -> dict[str, User]:
    """One SQL round (users + roles + permissions) for any number of User representations.

    Credentials that were sent but are not good are UNAUTHENTICATED here too (never downgraded to
    anonymous); every well-formed id gets a User, existing or not, so `_entities` is no oracle."""
    auth = authenticate_request(info.context["request"])
    if auth.principal is None and auth.error:
        raise Unauthenticated(auth.error)
    raw_ids = [representation.get("id") for representation in representations]
    found = users_by_ids(raw_ids)
    answer: dict[str, User] = {}
    for raw in raw_ids:
        try:
            user_id = uuid.UUID(str(raw))
        except ValueError:
            continue
        answer[str(raw)] = found.get(str(user_id)) or unknown_user(user_id)
    return answer


install_batched_entities(schema, {"User": load_users})


def context_for(request: HttpRequest) -> dict[str, Any]:
    return {"request": request, "self_user_ids": set()}
