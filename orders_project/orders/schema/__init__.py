"""The orders subgraph: code-first graphene schema with Federation v2 (User gains `orders`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.graphql.federation import install_batched_entities
from graphene_federation import FederationVersion, build_schema

from orders.schema.mutations import OrdersMutation
from orders.schema.queries import OrdersQuery, User

# The composition library in the gateway accepts federation links up to v2.9.
schema = build_schema(
    query=OrdersQuery, mutation=OrdersMutation, types=[User], federation_version=FederationVersion.VERSION_2_9
)


def _users(representations: list[Mapping[str, Any]], info: Any) -> dict[str, User]:
    # A User reference needs nothing from the database: its orders are loaded when asked for.
    return {str(r.get("id")): User(id=str(r.get("id"))) for r in representations if r.get("id")}


install_batched_entities(schema, {"User": _users})
