"""Batched federation entity resolution for ariadne schemas.

ariadne's `_entities` resolver calls each type's reference resolver once per representation
(20 representations = 20 SQL queries). `install_batched_entities` replaces it with one that
groups representations by type and loads each type with a single batch call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

# A loader gets the representations of one type and returns {key as str: object}.
EntityLoader = Callable[[list[Mapping[str, Any]], GraphQLResolveInfo], Mapping[str, Any]]


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
        representations = list(representations)
        by_type: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for representation in representations:
            by_type[representation.get("__typename", "")].append(representation)
        found: dict[str, Mapping[str, Any]] = {}
        for typename, group in by_type.items():
            loader = loaders.get(typename)
            found[typename] = loader(group, info) if loader else {}
        return [
            _with_typename(found[r.get("__typename", "")].get(str(r.get(key))), r.get("__typename", ""))
            for r in representations
        ]

    query_type.fields["_entities"].resolve = resolve_entities
