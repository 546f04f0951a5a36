"""Batched federation entity resolution for graphene-federation schemas.

graphene-federation resolves each `_entities` representation on its own (one SQL
query per id). This replaces the resolver with one that groups representations by
type and loads each type with a single batch call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from graphql import GraphQLResolveInfo, GraphQLScalarType, GraphQLSchema, value_from_ast_untyped

from common.errors import ValidationFailed
from common.graphql.limits import LIMITS, too_many_entities

# A loader gets the representations of one type and returns {key: object}.
EntityLoader = Callable[[list[Mapping[str, Any]], GraphQLResolveInfo], Mapping[str, Any]]


def load_entities(
    representations: Iterable[Mapping[str, Any]],
    loaders: Mapping[str, EntityLoader],
    info: GraphQLResolveInfo,
    key: str = "id",
) -> list[tuple[str, Any]]:
    """(typename, object or None) for each representation, in order, with one loader call per type."""
    representations = checked_representations(representations)
    by_type: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for representation in representations:
        by_type[representation.get("__typename", "")].append(representation)
    found: dict[str, Mapping[str, Any]] = {}
    for typename, group in by_type.items():
        loader = loaders.get(typename)
        found[typename] = loader(group, info) if loader else {}
    return [
        (r.get("__typename", ""), found[r.get("__typename", "")].get(str(r.get(key)))) for r in representations
    ]


def checked_representations(representations: Iterable[Any]) -> list[Mapping[str, Any]]:
    """At most LIMITS.max_entities objects, each with a string `__typename`; ValidationFailed otherwise."""
    items = list(representations) if isinstance(representations, list | tuple) else None
    if items is None:
        raise ValidationFailed("`representations` must be a list of objects.", fields={"representations": ["Must be a list."]})
    if len(items) > LIMITS.max_entities:
        raise too_many_entities(len(items))
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("__typename"), str):
            raise ValidationFailed(
                "Each representation must be an object with a `__typename`.",
                fields={"representations": [f"Item {index} is not an object with a __typename."]},
            )
    return items


def _parse_any_literal(node: Any, variables: Any = None) -> Any:
    return value_from_ast_untyped(node, variables)


def harden_federation(schema: GraphQLSchema) -> None:
    """`_Any` literals parse to plain values (graphene-federation handed the AST node to resolvers,
    so inline `_entities(representations: [...])` failed where the same variables worked)."""
    scalar = schema.type_map.get("_Any")
    if isinstance(scalar, GraphQLScalarType):
        scalar.parse_literal = _parse_any_literal  # type: ignore[method-assign]
    # Whoever resolves `_entities` (the batched resolvers here, ariadne's or graphene-federation's own):
    # representations are checked first, so a non-object one is BAD_USER_INPUT, not a TypeError.
    query_type = schema.query_type
    field = query_type.fields.get("_entities") if query_type is not None else None
    original = getattr(field, "resolve", None)
    if field is not None and original is not None and not getattr(original, "_checks_representations", False):

        def resolve(root: Any, info: GraphQLResolveInfo, **kwargs: Any) -> Any:
            kwargs["representations"] = checked_representations(kwargs.get("representations"))
            return original(root, info, **kwargs)

        resolve._checks_representations = True  # type: ignore[attr-defined]
        field.resolve = resolve


def install_batched_entities(schema: Any, loaders: Mapping[str, EntityLoader], key: str = "id") -> None:
    field = schema.graphql_schema.query_type.fields["_entities"]

    def resolve_entities(root: Any, info: GraphQLResolveInfo, representations: Iterable[Mapping[str, Any]]) -> list[Any]:
        # Django model instances: the union's type resolver tells the types apart by model.
        return [entity for _, entity in load_entities(representations, loaders, info, key)]

    field.resolve = resolve_entities
