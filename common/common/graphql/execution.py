"""A graphql-core execution context for schemas whose resolvers are all synchronous (Django views).

Two shortcuts, both measured on the catalog's uncached list (docs/performance.md §2):

- graphql-core asks `is_awaitable(value)` of every resolved value, list and field result (≈ 1,400 calls
  for a 100-product page). A Django WSGI view never returns awaitables, so the check is a constant.
- Leaf fields served by a *default* resolver (graphene's attribute/dict resolvers, graphql-core's
  `default_field_resolver`, graphene-django's `resolve_id`) are most of a list's fields (`name`,
  `stockQuantity`, `amount`, ...). For them graphql-core builds a `Path`, a `GraphQLResolveInfo`, an
  empty argument dict, calls the resolver through two wrappers and walks `complete_value`'s type checks,
  ~3 µs per field. Here they are read and serialized directly, with the same results and the same errors
  (a non-null leaf that is None, a value the scalar cannot serialize, an attribute that raises, an
  `Exception` returned as a value: same message, path and propagation as graphql-core's). Object and
  list fields served by a default resolver skip the resolver wrappers and the argument coercion, then
  complete as usual. Fields with arguments, custom resolvers, or any field while a middleware is
  installed go through graphql-core unchanged (a middleware must see every field).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from graphql import (
    ExecutionContext,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    default_field_resolver,
    is_leaf_type,
    located_error,
)
from graphql.execution.execute import get_field_def
from graphql.language import FieldNode
from graphql.pyutils import Path, Undefined

try:  # graphene's default resolvers: `partial(resolver, attname, default_value)` on every plain field
    from graphene.types.resolver import attr_resolver, dict_or_attr_resolver, dict_resolver
except ImportError:  # pragma: no cover - a schema built without graphene
    attr_resolver = dict_or_attr_resolver = dict_resolver = None  # type: ignore[assignment]

try:  # graphene-django's `id` resolver of every DjangoObjectType: `return self.pk`
    from graphene_django.types import DjangoObjectType

    _RESOLVE_PK: Any = DjangoObjectType.resolve_id
except ImportError:  # pragma: no cover
    _RESOLVE_PK = None


def _never_awaitable(value: Any) -> bool:
    return False


# How a field's value is read from its source (the default resolvers this module knows exactly).
_SLOW, _ATTR, _DICT, _DICT_OR_ATTR, _CORE_DEFAULT, _PK = range(6)
# What is done with it.
_LEAF, _COMPLETE = 0, 1


def _access(field_def: GraphQLField, field_resolver: Any) -> tuple[int, str | None, Any]:
    """(how the value is read, attribute or key name, default value) of a field, or _SLOW."""
    resolve = field_def.resolve
    if resolve is None:
        return (_CORE_DEFAULT, None, None) if field_resolver is default_field_resolver else (_SLOW, None, None)
    if resolve is _RESOLVE_PK and _RESOLVE_PK is not None:
        return _PK, None, None
    if isinstance(resolve, partial) and not resolve.keywords and len(resolve.args) == 2:
        kind = {attr_resolver: _ATTR, dict_resolver: _DICT, dict_or_attr_resolver: _DICT_OR_ATTR}.get(resolve.func)
        if kind is not None and isinstance(resolve.args[0], str):
            return kind, resolve.args[0], resolve.args[1]
    return _SLOW, None, None


class SyncExecutionContext(ExecutionContext):
    is_awaitable = staticmethod(_never_awaitable)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # A middleware wraps every resolver: then every field takes graphql-core's own path.
        self._shortcuts = manager is None or not manager.middlewares
        # id(fields) -> (fields, plan): graphql-core hands the same `fields` dict (its sub-field cache) to
        # every item of a list, so a plan is made once per selection and request.
        self._plans: dict[int, tuple[dict[str, list[FieldNode]], list[tuple[Any, ...]]]] = {}

    def _plan(self, parent_type: GraphQLObjectType, fields: dict[str, list[FieldNode]]) -> list[tuple[Any, ...]]:
        plan = []
        for response_name, field_nodes in fields.items():
            field_def = get_field_def(self.schema, parent_type, field_nodes[0])
            if not field_def:  # graphql-core leaves unknown fields out of the result
                continue
            access, name, default = _access(field_def, self.field_resolver) if not field_def.args else (_SLOW, None, None)
            if access == _CORE_DEFAULT:
                name = field_nodes[0].name.value
            return_type = field_def.type
            non_null = isinstance(return_type, GraphQLNonNull)
            named = return_type.of_type if non_null else return_type
            mode = _LEAF if is_leaf_type(named) else _COMPLETE
            plan.append((response_name, field_nodes, field_def, access, name, default, return_type, named, non_null, mode))
        return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        fields: dict[str, list[FieldNode]],
    ) -> Any:
        if not self._shortcuts:
            return super().execute_fields(parent_type, source_value, path, fields)
        cached = self._plans.get(id(fields))
        if cached is None or cached[0] is not fields:
            cached = (fields, self._plan(parent_type, fields))
            self._plans[id(fields)] = cached
        results: dict[str, Any] = {}
        for response_name, field_nodes, field_def, access, name, default, return_type, named, non_null, mode in cached[1]:
            if access == _SLOW:
                result = self.execute_field(parent_type, source_value, field_nodes, Path(path, response_name, parent_type.name))
                if result is not Undefined:
                    results[response_name] = result
                continue
            field_path = None
            try:
                # What the default resolver would return (same lookups, same defaults, same exceptions).
                if access == _DICT_OR_ATTR:
                    value = (source_value.get(name, default) if isinstance(source_value, dict)
                             else getattr(source_value, name, default))
                elif access == _ATTR:
                    value = getattr(source_value, name, default)
                elif access == _PK:
                    value = source_value.pk
                elif access == _DICT:
                    value = source_value.get(name, default)
                else:  # graphql-core's default_field_resolver: a callable attribute is called with info
                    value = source_value.get(name) if isinstance(source_value, Mapping) else getattr(source_value, name, None)
                    if callable(value):
                        field_path = Path(path, response_name, parent_type.name)
                        value = value(self.build_resolve_info(field_def, field_nodes, parent_type, field_path))
                if mode == _LEAF:
                    # complete_value for a (non-null) scalar or enum, in graphql-core's order of checks.
                    if isinstance(value, Exception):
                        raise value
                    if value is None or value is Undefined:
                        if non_null:
                            raise TypeError(
                                f"Cannot return null for non-nullable field {parent_type.name}.{field_nodes[0].name.value}."
                            )
                        results[response_name] = None
                    else:
                        results[response_name] = self.complete_leaf_value(named, value)
                else:
                    field_path = field_path or Path(path, response_name, parent_type.name)
                    info = self.build_resolve_info(field_def, field_nodes, parent_type, field_path)
                    results[response_name] = self.complete_value(return_type, field_nodes, info, field_path, value)
            except Exception as raw_error:
                # execute_field's handler: located at this field; a non-null field propagates to its parent.
                field_path = field_path or Path(path, response_name, parent_type.name)
                error = located_error(raw_error, field_nodes, field_path.as_list())
                self.handle_field_error(error, return_type, field_path)
                results[response_name] = None
        return results
