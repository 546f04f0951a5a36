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

from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate
from graphql.utilities import get_operation_ast

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
        document = parse(query)
    except GraphQLError as exc:
        return PreparedDocument(document=None, errors=(exc,))
    errors = validate(schema, document, list(rules) if rules is not None else None, max_errors)
    return PreparedDocument(document=document, errors=tuple(errors))


_prepare_cached = lru_cache(maxsize=CACHED_DOCUMENTS)(_prepare)


def prepare(
    schema: GraphQLSchema, query: str, rules: Sequence[Any] | None = None, max_errors: int | None = None
) -> PreparedDocument:
    rules_key = tuple(rules) if rules is not None else None
    if len(query) > MAX_CACHED_QUERY_LENGTH:
        return _prepare(schema, query, rules_key, max_errors)
    return _prepare_cached(schema, query, rules_key, max_errors)


def root_fields(operation: OperationDefinitionNode) -> str:
    """`product`, `products+categories`...: names the operation in cache counters."""
    names = sorted({selection.name.value for selection in operation.selection_set.selections if hasattr(selection, "name")})
    return "+".join(names)[:80] or "query"
