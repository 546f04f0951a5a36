"""Client-facing GraphQL errors with a machine-readable `extensions.code`.

Commands raise domain exceptions (`common.errors`); `format_error` is the one place that turns
them into GraphQL errors (`extensions.code`, camelCase `fields`). The GraphQL-flavoured classes
below remain for the GraphQL layer itself (e.g. an argument the schema layer rejects).
Anything else that escapes a resolver is an unexpected failure and is masked (logged
server-side, `INTERNAL_SERVER_ERROR` to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from common.errors import DomainError, extensions_for

logger = logging.getLogger("common.graphql")

BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_REQUEST = "BAD_REQUEST"


class ClientError(GraphQLError):
    """Base for errors whose message is safe to show to the API client."""

    code = BAD_REQUEST

    def __init__(self, message: str, **details: Any) -> None:
        extensions = {"code": self.code}
        extensions.update({key: value for key, value in details.items() if value is not None})
        super().__init__(message, extensions=extensions)


class BadUserInput(ClientError):
    """Invalid arguments. `fields` maps an input field name to a list of messages."""

    code = BAD_USER_INPUT

    def __init__(self, message: str = "Invalid input.", *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message, fields=fields)


class NotFound(ClientError):
    code = NOT_FOUND


class Conflict(ClientError):
    code = CONFLICT


class Unauthenticated(ClientError):
    code = UNAUTHENTICATED

    def __init__(self, message: str = "Authentication required.") -> None:
        super().__init__(message)


class Forbidden(ClientError):
    code = FORBIDDEN

    def __init__(self, message: str = "You do not have permission to perform this action.") -> None:
        super().__init__(message)


def _is_client_error(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        # Parse/validation errors come from graphql-core itself and describe the request.
        return True
    return isinstance(original, GraphQLError | DomainError)


def _domain_error(error: GraphQLError) -> DomainError | None:
    original = error.original_error
    return original if isinstance(original, DomainError) else None


def _backing_store_errors() -> tuple[type[BaseException], ...]:
    """A database or Redis connection lost mid-request (a failover, a restart, a terminated backend)."""
    from django.db.utils import InterfaceError, OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


def format_error(error: Exception) -> dict[str, Any]:
    """Format one error for the response; never leaks internals of unexpected failures."""
    if not isinstance(error, GraphQLError):
        logger.error("Unexpected error outside execution", exc_info=error)
        return {"message": "Internal server error.", "extensions": {"code": INTERNAL_SERVER_ERROR}}
    if isinstance(error.original_error, _backing_store_errors()):
        # Not a bug but an outage the client may retry: SERVICE_UNAVAILABLE, details only in the log.
        logger.warning("Backing store unavailable at %s: %s", error.path, error.original_error.__class__.__name__,
                       exc_info=error.original_error)
        unavailable: dict[str, Any] = {"message": "The service is temporarily unavailable; try again later.",
                                       "extensions": {"code": "SERVICE_UNAVAILABLE"}}
        if error.path:
            unavailable["path"] = error.path
        return unavailable
    if not _is_client_error(error):
        logger.error("Unexpected error in resolver at %s", error.path, exc_info=error.original_error)
        formatted: dict[str, Any] = {"message": "Internal server error.", "extensions": {"code": INTERNAL_SERVER_ERROR}}
        if error.path:
            formatted["path"] = error.path
        return formatted
    domain = _domain_error(error)
    if domain is not None:
        # The one translation of domain refusals into GraphQL terms.
        formatted = {"message": domain.message, "extensions": extensions_for(domain)}
        if error.locations:
            formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
        if error.path:
            formatted["path"] = error.path
        return formatted
    formatted = error.formatted
    extensions = dict(formatted.get("extensions") or {})
    if "code" not in extensions:
        extensions["code"] = GRAPHQL_PARSE_FAILED if "Syntax Error" in error.message else GRAPHQL_VALIDATION_FAILED
    formatted["extensions"] = extensions
    return formatted


class FieldErrors:
    """Collects per-field validation messages, then raises one BadUserInput."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self, message: str = "Invalid input.") -> None:
        if self.fields:
            raise BadUserInput(message, fields=self.fields)
