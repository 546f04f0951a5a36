"""Batched federation entity resolution for ariadne schemas.

ariadne's `_entities` resolver calls each type's reference resolver once per representation
(20 representations = 20 SQL queries). `install_batched_entities` replaces it with one that
groups representations by type and loads each type with a single batch call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from common.graphql.federation import EntityLoader, load_entities


def _with_typename(obj: Any, typename: str) -> Any:
    # graphql-core's default type resolver reads `__typename` from dicts, or this mangled attribute.
    if obj is None:
        return None
    if isinstance(obj, dict):
        obj["__typename"] = typename
    else:
        setattr(obj, f"_{obj.__class__.__name__}__typename", typename)
    return obj


def install_batched_entities(schema: GraphQLSchema, loaders: Mapping[str, EntityLoader], key: str = "id") -> None:
    query_type = schema.query_type
    if not isinstance(query_type, GraphQLObjectType) or "_entities" not in query_type.fields:
        raise ValueError("The schema has no _entities field: is it a federated schema with @key types?")

    def resolve_entities(root: Any, info: GraphQLResolveInfo, representations: Iterable[Mapping[str, Any]]) -> list[Any]:
        return [_with_typename(entity, typename) for typename, entity in load_entities(representations, loaders, info, key)]

    query_type.fields["_entities"].resolve = resolve_entities
