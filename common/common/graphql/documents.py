"""Parsed and validated GraphQL documents, kept per process.

Parsing and validating a query costs about as much as executing a simple one, and clients send
the same few query strings over and over. Validation depends only on the schema, the rules and
the text, so the outcome can be reused as is (what GraphQL servers call a document cache).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, specified_rules, validate
from graphql.utilities import get_operation_ast

from common.graphql.inputs import INPUT_RULES, variable_null_errors, without_duplicates
from common.graphql.limits import LIMIT_RULES, cost_errors, parse_document

# What every subgraph validates: the spec's rules, then its own limits and input rules.
DEFAULT_RULES: tuple[Any, ...] = (*specified_rules, *LIMIT_RULES, *INPUT_RULES)

# Longer queries are parsed every time: a bounded number of entries must mean bounded memory.
MAX_CACHED_QUERY_LENGTH = 10_000
CACHED_DOCUMENTS = 512


@dataclass(frozen=True)
class PreparedDocument:
    document: DocumentNode | None  # None when the text does not parse
    errors: tuple[Exception, ...]  # the parse error, or validation errors

    def operation(self, operation_name: str | None) -> OperationDefinitionNode | None:
        return get_operation_ast(self.document, operation_name) if self.document is not None else None


def _prepare(schema: GraphQLSchema, query: str, rules: tuple[Any, ...] | None, max_errors: int | None) -> PreparedDocument:
    try:
        document = parse_document(query)  # stops at the token limit
    except GraphQLError as exc:
        return PreparedDocument(document=None, errors=(exc,))
    errors = without_duplicates(validate(schema, document, [*DEFAULT_RULES, *(rules or ())], max_errors))
    return PreparedDocument(document=document, errors=tuple(errors))


_prepare_cached = lru_cache(maxsize=CACHED_DOCUMENTS)(_prepare)


def prepare(
    schema: GraphQLSchema, query: str, rules: Sequence[Any] | None = None, max_errors: int | None = None
) -> PreparedDocument:
    """Parsed and validated with DEFAULT_RULES plus `rules` (limits can be added to, never dropped)."""
    rules_key = tuple(rules) if rules is not None else None
    if len(query) > MAX_CACHED_QUERY_LENGTH:
        return _prepare(schema, query, rules_key, max_errors)
    return _prepare_cached(schema, query, rules_key, max_errors)


def root_fields(operation: OperationDefinitionNode) -> str:
    """`product`, `products+categories`...: names the operation in cache counters."""
    names = sorted({selection.name.value for selection in operation.selection_set.selections if hasattr(selection, "name")})
    return "+".join(names)[:80] or "query"


def request_errors(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Any
) -> list[GraphQLError]:
    """What only this request's variables can reveal: nulls where a default exists, and the cost
    (a `first: $n` is as big as the `n` sent)."""
    return [
        *variable_null_errors(schema, document, operation_name, variables),
        *cost_errors(schema, document, operation_name, variables),
    ]
