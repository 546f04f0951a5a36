"""Request limits every subgraph enforces itself, with the gateway's numbers (limits.json).

A subgraph is often reachable without the gateway (its port, a sidecar, a misrouted ingress), so
it bounds each request on its own: tokens (at parse time), depth, aliases (`__typename` ones
too) and directives per operation, `_entities` representations, and an estimated cost in the
model of federation demand control (what the gateway uses): a composite field costs 1, a leaf 0,
a mutation field 10, and a list multiplies what is below it by its size, which is the value of
its slicing argument (`first`, per `@listSize(slicingArguments:)`), its `@listSize(assumedSize:)`,
the number of `_entities` representations, or `costListSize`.

The numbers live in `limits.json` next to this module (read by gateway/lib/settings.mjs too);
`GRAPHQL_<NAME>` environment variables override them here (`GRAPHQL_MAX_DEPTH=12`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    parse,
    value_from_ast_untyped,
)
from graphql.type import GraphQLNamedType

LIMITS_FILE = Path(__file__).with_name("limits.json")
COST_CODE = "COST_ESTIMATED_TOO_EXPENSIVE"
VALIDATION_CODE = "GRAPHQL_VALIDATION_FAILED"
ENTITIES_FIELD = "_entities"
MUTATION_FIELD_COST = 10
# The gateway's response cache adds `__responseCacheTypeName: __typename` and `__responseCacheId: id`
# to every selection set it sends. Not counted: an alias repeated in one selection set merges into one
# field (and a conflicting reuse is a validation error), so a fixed name can never multiply work.
GATEWAY_ALIASES = frozenset({"__responseCacheTypeName", "__responseCacheId"})


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_directives: int
    max_tokens: int
    max_cost: int
    cost_list_size: int
    max_entities: int
    max_body_bytes: int
    max_batch: int
    max_json_depth: int


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def load_limits(path: Path = LIMITS_FILE, environ: Mapping[str, str] = os.environ) -> Limits:
    raw = {_snake(key): value for key, value in json.loads(path.read_text()).items() if not key.startswith("_")}
    for name in Limits.__dataclass_fields__:
        override = environ.get(f"GRAPHQL_{name.upper()}")
        if override not in (None, ""):
            raw[name] = int(override)  # type: ignore[arg-type]
    return Limits(**{name: int(raw[name]) for name in Limits.__dataclass_fields__})


LIMITS = load_limits()


def limit_error(message: str, code: str = VALIDATION_CODE, node: Any = None) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": code})


def parse_document(query: str, limits: Limits = LIMITS) -> DocumentNode:
    """graphql-core's parser, stopping at the token limit (GRAPHQL_PARSE_FAILED "Syntax Error: ...")."""
    return parse(query, max_tokens=limits.max_tokens)


# --- shape: depth, aliases, directives ---------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    depth: int = 0
    aliases: int = 0
    directives: int = 0


class _ShapeCounter:
    """Depth, aliases and directives of selection sets; each fragment is measured once (fragment
    "bombs" cost linear time), and a fragment cycle counts as nothing here (validation reports it)."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[str, _Shape] = {}
        self.active: set[str] = set()

    def selection_set(self, selection_set: SelectionSetNode | None) -> _Shape:
        if selection_set is None:
            return _Shape()
        depth = aliases = directives = 0
        for selection in selection_set.selections:
            directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                below = self.selection_set(selection.selection_set)
                name = selection.name.value
                # Introspection is not counted (as at the gateway); `_entities` is the gateway's own
                # entry point into this subgraph, so it adds no level either.
                if name.startswith("__") and selection.selection_set is not None:
                    below = _Shape(0, below.aliases, below.directives)
                    level = 0
                else:
                    level = 0 if name == ENTITIES_FIELD else 1
                depth = max(depth, level + below.depth)
                own_alias = selection.alias is not None and selection.alias.value not in GATEWAY_ALIASES
                aliases += below.aliases + (1 if own_alias else 0)
                directives += below.directives
            elif isinstance(selection, InlineFragmentNode):
                below = self.selection_set(selection.selection_set)
                depth, aliases, directives = max(depth, below.depth), aliases + below.aliases, directives + below.directives
            elif isinstance(selection, FragmentSpreadNode):
                below = self.fragment(selection.name.value)
                depth, aliases, directives = max(depth, below.depth), aliases + below.aliases, directives + below.directives
        return _Shape(depth, aliases, directives)

    def fragment(self, name: str) -> _Shape:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return _Shape()
        self.active.add(name)
        shape = self.selection_set(definition.selection_set)
        shape = _Shape(shape.depth, shape.aliases, shape.directives + len(definition.directives or ()))
        self.active.discard(name)
        self.memo[name] = shape
        return shape


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


class QueryShapeRule(ValidationRule):
    """Depth, alias and directive limits per operation (fragments expanded)."""

    limits: Limits = LIMITS

    def enter_document(self, node: DocumentNode, *args: Any) -> Any:
        counter = _ShapeCounter(_fragments(node))
        for operation in node.definitions:
            if not isinstance(operation, OperationDefinitionNode):
                continue
            shape = counter.selection_set(operation.selection_set)
            directives = shape.directives + len(operation.directives or ())
            limits = self.limits
            if shape.depth > limits.max_depth:
                message = f"Query depth limit of {limits.max_depth} exceeded, found {shape.depth}."
                self.report_error(limit_error(message, node=operation))
            if shape.aliases > limits.max_aliases:
                message = f"Aliases limit of {limits.max_aliases} exceeded, found {shape.aliases}."
                self.report_error(limit_error(message, node=operation))
            if directives > self.limits.max_directives:
                self.report_error(
                    limit_error(f"Directives limit of {self.limits.max_directives} exceeded, found {directives}.", node=operation)
                )
        return self.SKIP


class EntitiesLiteralRule(ValidationRule):
    """`_entities(representations: [...])` written inline: at most `max_entities` of them."""

    limits: Limits = LIMITS

    def enter_field(self, node: FieldNode, *args: Any) -> None:
        if node.name.value != ENTITIES_FIELD:
            return
        for argument in node.arguments or ():
            value = argument.value
            if (
                argument.name.value == "representations"
                and isinstance(value, ListValueNode)
                and len(value.values) > self.limits.max_entities
            ):
                self.report_error(too_many_entities(len(value.values), self.limits, node))


def too_many_entities(count: int, limits: Limits = LIMITS, node: Any = None) -> GraphQLError:
    return GraphQLError(
        f"At most {limits.max_entities} representations per _entities call, got {count}.",
        node,
        extensions={"code": "BAD_USER_INPUT", "fields": {"representations": [f"At most {limits.max_entities}."]}},
    )


LIMIT_RULES: tuple[type[ValidationRule], ...] = (QueryShapeRule, EntitiesLiteralRule)


# --- cost ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListSize:
    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()


def _directive_args(directive: Any) -> dict[str, Any]:
    return {argument.name.value: value_from_ast_untyped(argument.value) for argument in directive.arguments or ()}


def _list_size_of(args: Mapping[str, Any]) -> ListSize:
    return ListSize(
        assumed_size=args.get("assumedSize"),
        slicing_arguments=tuple(args.get("slicingArguments") or ()),
        sized_fields=tuple(args.get("sizedFields") or ()),
    )


def list_sizes_from_sdl(sdl: str) -> dict[tuple[str, str], ListSize]:
    """{(type, field): @listSize} as declared in a subgraph's SDL (what the gateway's cost model reads)."""
    sizes: dict[tuple[str, str], ListSize] = {}
    document = parse(sdl, no_location=True)
    for definition in document.definitions:
        for field in getattr(definition, "fields", None) or ():
            for directive in getattr(field, "directives", None) or ():
                if directive.name.value == "listSize":
                    sizes[(definition.name.value, field.name.value)] = _list_size_of(_directive_args(directive))
    return sizes


def _list_sizes_from_ast(schema: GraphQLSchema) -> dict[tuple[str, str], ListSize]:
    sizes: dict[tuple[str, str], ListSize] = {}
    for type_name, named in schema.type_map.items():
        for field_name, field in (getattr(named, "fields", None) or {}).items():
            node = getattr(field, "ast_node", None)
            for directive in getattr(node, "directives", None) or ():
                if directive.name.value == "listSize":
                    sizes[(type_name, field_name)] = _list_size_of(_directive_args(directive))
    return sizes


_SDL_BY_SCHEMA: dict[int, str] = {}


def register_sdl(schema: GraphQLSchema, sdl: str) -> None:
    """Code-first schemas keep directives only in their printed SDL: hand it over once."""
    _SDL_BY_SCHEMA[id(schema)] = sdl
    _list_sizes.cache_clear()


@lru_cache(maxsize=16)
def _list_sizes(schema: GraphQLSchema) -> dict[tuple[str, str], ListSize]:
    sdl = _SDL_BY_SCHEMA.get(id(schema))
    return list_sizes_from_sdl(sdl) if sdl else _list_sizes_from_ast(schema)


class _CostCounter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.sizes = _list_sizes(schema)
        self.memo: dict[tuple[str, str, int | None], int] = {}
        self.active: set[str] = set()

    def _argument(self, node: FieldNode, field: GraphQLField, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = argument.value
                if isinstance(value, VariableNode):
                    return self.variables.get(value.name.value)
                if isinstance(value, IntValueNode | StringValueNode | ListValueNode):
                    return value_from_ast_untyped(value)
                return None
        definition = field.args.get(name)
        default = getattr(definition, "default_value", None)
        return default if isinstance(default, int | list) else None

    def _slicing_size(self, node: FieldNode, field: GraphQLField, size: ListSize | None) -> int | None:
        names = size.slicing_arguments if size and size.slicing_arguments else ()
        values = [self._argument(node, field, name) for name in names]
        numbers = [value for value in values if isinstance(value, int) and not isinstance(value, bool)]
        return max(numbers) if numbers else None

    def _list_length(self, parent: GraphQLNamedType, node: FieldNode, field: GraphQLField, sized: int | None) -> int:
        if node.name.value == ENTITIES_FIELD:
            representations = self._argument(node, field, "representations")
            return len(representations) if isinstance(representations, list) else self.limits.max_entities
        if sized is not None:
            return sized
        size = self.sizes.get((parent.name, node.name.value))
        sliced = self._slicing_size(node, field, size)
        if sliced is not None:
            return max(sliced, 0)
        if size is not None and size.assumed_size is not None:
            return int(size.assumed_size)
        return self.limits.cost_list_size

    def selection_set(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None,
                      sized: Mapping[str, int] | None = None, root_cost: int = 1) -> int:
        if selection_set is None or parent is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, sized or {}, root_cost)
            elif isinstance(selection, InlineFragmentNode):
                condition = self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                total += self.selection_set(selection.selection_set, condition, sized, root_cost)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, sized, root_cost)
        return total

    def fragment(self, name: str, sized: Mapping[str, int] | None, root_cost: int) -> int:
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return 0
        key = (name, json.dumps(sorted((sized or {}).items())), root_cost)
        if key not in self.memo:
            self.active.add(name)
            condition = self.schema.get_type(definition.type_condition.name.value)
            self.memo[key] = self.selection_set(definition.selection_set, condition, sized, root_cost)  # type: ignore[index]
            self.active.discard(name)
        return self.memo[key]  # type: ignore[index]

    def field(self, node: FieldNode, parent: GraphQLNamedType, sized: Mapping[str, int], root_cost: int) -> int:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return 0
        field = fields[name]
        named = get_named_type(field.type)
        own = root_cost if is_composite_type(named) else 0
        size = self.sizes.get((parent.name, name))
        child_sized: dict[str, int] = {}
        if size is not None and size.sized_fields:
            sliced = self._slicing_size(node, field, size)
            length = sliced if sliced is not None else (size.assumed_size or self.limits.cost_list_size)
            child_sized = {child: max(int(length), 0) for child in size.sized_fields}
        below = self.selection_set(node.selection_set, named, child_sized)
        if is_list_type(get_nullable_type(field.type)):  # type: ignore[arg-type]
            return self._list_length(parent, node, field, sized.get(name)) * (own + below)
        return own + below


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    limits: Limits = LIMITS,
) -> int:
    counter = _CostCounter(schema, _fragments(document), variables or {}, limits)
    total = 0
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        if operation_name is not None and (operation.name is None or operation.name.value != operation_name):
            continue
        root = {
            OperationType.QUERY: schema.query_type,
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }[operation.operation]
        root_cost = MUTATION_FIELD_COST if operation.operation == OperationType.MUTATION else 1
        total = max(total, counter.selection_set(operation.selection_set, root, root_cost=root_cost))
    return total


def cost_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    limits: Limits = LIMITS,
) -> list[GraphQLError]:
    cost = estimate_cost(schema, document, operation_name, variables if isinstance(variables, Mapping) else None, limits)
    if cost > limits.max_cost:
        return [limit_error(f"Operation estimated cost {cost} exceeded the maximum cost of {limits.max_cost}.", COST_CODE)]
    return []
