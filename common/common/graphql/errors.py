"""The GraphQL edge of errors: `format_error` is the one place that turns errors into responses.

Commands, validation and auth checks raise the domain exceptions of `common.errors`
(`ValidationFailed`, `NotFound`, `Conflict`, `PermissionDenied`, `Unauthenticated`, ...), with
snake_case field names; here they become `extensions.code` + camelCase `fields` and data. Errors
graphql-core makes itself (parse, validation of the document) keep their message and get
`GRAPHQL_PARSE_FAILED` / `GRAPHQL_VALIDATION_FAILED`. Anything else that escapes a resolver is an
unexpected failure and is masked (logged server-side, `INTERNAL_SERVER_ERROR` to the client).
Used by both GraphQL stacks (graphene views, ariadne views) and by the auth middleware.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from common.errors import DomainError, ErrorCode, extensions_for

logger = logging.getLogger("common.graphql")

INTERNAL = {"message": "Internal server error.", "extensions": {"code": str(ErrorCode.INTERNAL_SERVER_ERROR)}}


def _is_client_error(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        # Parse/validation errors come from graphql-core itself and describe the request.
        return True
    return isinstance(original, GraphQLError | DomainError)


def format_domain_error(error: DomainError, graphql_error: GraphQLError | None = None) -> dict[str, Any]:
    """The one translation of a domain refusal into GraphQL terms."""
    formatted: dict[str, Any] = {"message": error.message, "extensions": extensions_for(error)}
    if graphql_error is not None:
        if graphql_error.locations:
            formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in graphql_error.locations]
        if graphql_error.path:
            formatted["path"] = graphql_error.path
    return formatted


def _backing_store_errors() -> tuple[type[BaseException], ...]:
    """A database or Redis connection lost mid-request (a failover, a restart, a terminated backend)."""
    from django.db.utils import InterfaceError, OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


def _unavailable(cause: BaseException, path: Any) -> dict[str, Any]:
    """Not a bug but an outage the client may retry: SERVICE_UNAVAILABLE, details only in the log."""
    logger.warning("Backing store unavailable at %s: %s", path, cause.__class__.__name__, exc_info=cause)
    unavailable: dict[str, Any] = {"message": "The service is temporarily unavailable; try again later.",
                                   "extensions": {"code": str(ErrorCode.SERVICE_UNAVAILABLE)}}
    if path:
        unavailable["path"] = path
    return unavailable


def format_error(error: Exception) -> dict[str, Any]:
    """Format one error for the response; never leaks internals of unexpected failures."""
    if isinstance(error, DomainError):  # raised outside execution (e.g. the auth middleware)
        return format_domain_error(error)
    if isinstance(error, _backing_store_errors()):
        # Outside execution too: a mutation's transaction.atomic() that cannot get a connection
        # ("too many clients", the database restarting) is an outage, not a bug.
        return _unavailable(error, None)
    if not isinstance(error, GraphQLError):
        logger.error("Unexpected error outside execution", exc_info=error)
        return {**INTERNAL, "extensions": dict(INTERNAL["extensions"])}
    if isinstance(error.original_error, _backing_store_errors()):
        return _unavailable(error.original_error, error.path)
    if not _is_client_error(error):
        logger.error("Unexpected error in resolver at %s", error.path, exc_info=error.original_error)
        formatted: dict[str, Any] = {**INTERNAL, "extensions": dict(INTERNAL["extensions"])}
        if error.path:
            formatted["path"] = error.path
        return formatted
    if isinstance(error.original_error, DomainError):
        return format_domain_error(error.original_error, error)
    formatted = error.formatted
    extensions = dict(formatted.get("extensions") or {})
    if "code" not in extensions:
        parse_failed = "Syntax Error" in error.message
        extensions["code"] = str(ErrorCode.GRAPHQL_PARSE_FAILED if parse_failed else ErrorCode.GRAPHQL_VALIDATION_FAILED)
    formatted["extensions"] = extensions
    return formatted


def bad_request(message: str) -> dict[str, Any]:
    """The GraphQL error body of a malformed HTTP request (not JSON, no query, ...)."""
    return {"message": message, "extensions": {"code": str(ErrorCode.BAD_REQUEST)}}
