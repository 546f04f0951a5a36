"""The accounts subgraph: schema-first (SDL in *.graphql here), ariadne, Federation v2.6."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ariadne import load_schema_from_path
from ariadne.contrib.federation import make_federated_schema
from common.graphql.ariadne_federation import install_batched_entities
from django.http import HttpRequest

from accounts.queries import users_by_ids
from accounts.schema.mutations import mutation
from accounts.schema.query import query as query_type
from accounts.schema.types import datetime_scalar, session_type, user_type

type_defs = load_schema_from_path(str(Path(__file__).parent))

# convert_names_case: camelCase in the SDL, snake_case in Python (arguments, inputs, attributes).
schema = make_federated_schema(
    type_defs, query_type, mutation, user_type, session_type, datetime_scalar, convert_names_case=True
)

# One SQL round (users + roles + permissions) for any number of User representations.
install_batched_entities(schema, {"User": lambda representations, info: users_by_ids(r.get("id") for r in representations)})


def context_for(request: HttpRequest) -> dict[str, Any]:
    return {"request": request, "self_user_ids": set()}
