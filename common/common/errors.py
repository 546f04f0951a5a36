"""Domain exceptions: what a command says when it refuses, in domain terms.

Commands, validation and consumers raise these (never GraphQL errors): field names are the
domain's snake_case names and `data` carries facts a caller can act on (e.g. `available`).
The GraphQL edge translates them once (`common.graphql.errors.format_error`) into
`extensions.code` + camelCase `fields`; a consumer catches them and publishes a reply event
(e.g. `Conflict` for "not enough stock") instead of retrying into the dead-letter topic.

Every code a client can see is listed once in `ErrorCode`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """`extensions.code` values of every GraphQL error the platform returns (docs: README, Errors)."""

    BAD_USER_INPUT = "BAD_USER_INPUT"  # invalid arguments; `fields` maps each input field to messages
    NOT_FOUND = "NOT_FOUND"  # no such object, or not one the caller may see
    CONFLICT = "CONFLICT"  # the request is valid but the current state refuses it
    UNAUTHENTICATED = "UNAUTHENTICATED"  # no, or no longer valid, credentials
    FORBIDDEN = "FORBIDDEN"  # authenticated, but lacking the permission
    RATE_LIMITED = "RATE_LIMITED"  # too many attempts; `retryAfter` seconds
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"  # a backing store is down; retry later
    BAD_REQUEST = "BAD_REQUEST"  # the HTTP request itself is malformed
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"  # a bug: logged, details never shown


class DomainError(Exception):
    """Base of every refusal a client may be told about. `data` is extra, JSON-safe facts."""

    code: ErrorCode = ErrorCode.BAD_REQUEST
    default_message = "The request was refused."

    def __init__(self, message: str | None = None, **data: Any) -> None:
        self.message = message or self.default_message
        self.data = {key: value for key, value in data.items() if value is not None}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    """Invalid input. `fields` maps a domain field name (snake_case) to its messages."""

    code = ErrorCode.BAD_USER_INPUT
    default_message = "Invalid input."

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None, **data: Any) -> None:
        super().__init__(message, **data)
        self.fields = fields or {}


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
    default_message = "Not found."


class Conflict(DomainError):
    """Valid, but the current state refuses it; `fields` (optional) names the fields involved."""

    code = ErrorCode.CONFLICT
    default_message = "The current state does not allow this."

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None, **data: Any) -> None:
        super().__init__(message, **data)
        self.fields = fields or {}


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED
    default_message = "Authentication required."


class PermissionDenied(DomainError):
    code = ErrorCode.FORBIDDEN
    default_message = "You do not have permission to perform this action."


class RateLimited(DomainError):
    code = ErrorCode.RATE_LIMITED
    default_message = "Too many attempts; try again later."


class ServiceUnavailable(DomainError):
    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "The service is temporarily unavailable; try again later."


class FieldErrors:
    """Collects per-field messages (domain field names), then raises one ValidationFailed."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self, message: str | None = None) -> None:
        if self.fields:
            raise ValidationFailed(message, fields=self.fields)


def camel_case(name: str) -> str:
    """`stock_quantity` -> `stockQuantity`; names without underscores (and dotted paths' parts) kept."""
    if "." in name:
        return ".".join(camel_case(part) for part in name.split("."))
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def extensions_for(error: DomainError) -> dict[str, Any]:
    """The GraphQL `extensions` of a domain error: code, camelCase data and fields."""
    extensions: dict[str, Any] = {"code": str(error.code)}
    extensions.update({camel_case(key): value for key, value in error.data.items()})
    fields = getattr(error, "fields", None)
    if fields:
        extensions["fields"] = {camel_case(name): list(messages) for name, messages in fields.items()}
    return extensions
