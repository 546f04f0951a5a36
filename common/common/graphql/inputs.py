"""Hostile input stopped where GraphQL coerces it, for every field of every service at once.

- Strings and IDs: no NUL character (PostgreSQL text cannot hold one) and no lone surrogate
  (not encodable as UTF-8), rejected by the scalar itself, in literals and variables alike.
- Decimal: a plain ASCII decimal number only (`12`, `-3.50`): no NaN, Infinity or sNaN, no `1_000`,
  no non-ASCII digits, no padding or exponent; `-0` is read as `0`.
- `null` for an argument or input field that has a default is refused, naming it: the resolver
  relies on the default (`products(first: null)` used to reach `1 <= None`).
- Request bodies: a JSON object with a string `query`, an object (or null) `variables`, a string
  (or null) `operationName`, nested at most `maxJsonDepth` levels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FloatValueNode,
    GraphQLError,
    GraphQLID,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    NullValueNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValidationRule,
    VariableNode,
    Visitor,
    get_named_type,
    visit,
)
from graphql.pyutils import Undefined
from graphql.type import GraphQLString

from common.graphql.limits import LIMITS, Limits

BAD_USER_INPUT = "BAD_USER_INPUT"
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_HARDENED = "_common_hardened"


# --- strings ----------------------------------------------------------------------------------------


def string_problem(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode (no lone surrogates)"
    return None


def _checked_string(kind: str, value: Any, node: Any = None) -> Any:
    if isinstance(value, str):
        problem = string_problem(value)
        if problem:
            raise GraphQLError(f"{kind} {problem}.", node)
    return value


def _harden_text_scalar(scalar: GraphQLScalarType) -> None:
    if getattr(scalar, _HARDENED, False):
        return
    parse_value, parse_literal = scalar.parse_value, scalar.parse_literal
    name = scalar.name
    scalar.parse_value = lambda value: _checked_string(name, parse_value(value))  # type: ignore[method-assign]
    scalar.parse_literal = lambda node, variables=None: _checked_string(  # type: ignore[method-assign]
        name, parse_literal(node, variables), node
    )
    setattr(scalar, _HARDENED, True)


# --- decimals ---------------------------------------------------------------------------------------


def parse_strict_decimal(value: Any) -> Decimal:
    """A decimal number as a client may send it; GraphQLError otherwise."""
    if isinstance(value, bool):
        raise GraphQLError("Decimal must be a number such as 12.50.")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        text = repr(value)
        if not _DECIMAL.fullmatch(text):
            raise GraphQLError("Decimal must be a finite number without exponent, such as 12.50.")
        value = text
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise GraphQLError("Decimal must be a finite number.")
        return value + 0  # -0 becomes 0
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise GraphQLError('Decimal must be a plain number such as "12.50" (ASCII digits, no spaces, no exponent).')
    try:
        parsed = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid numbers
        raise GraphQLError("Decimal must be a number.") from None
    return parsed + 0  # Decimal("-0") + 0 == Decimal("0")


def _harden_decimal_scalar(scalar: GraphQLScalarType) -> None:
    if getattr(scalar, _HARDENED, False):
        return

    def parse_literal(node: Any, variables: Any = None) -> Decimal:
        if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
            try:
                return parse_strict_decimal(node.value)
            except GraphQLError as error:
                raise GraphQLError(error.message, node) from None
        raise GraphQLError("Decimal must be a string or number literal.", node)

    scalar.parse_value = parse_strict_decimal  # type: ignore[method-assign]
    scalar.parse_literal = parse_literal  # type: ignore[method-assign]
    setattr(scalar, _HARDENED, True)


def harden_scalars(schema: GraphQLSchema) -> GraphQLSchema:
    """Make this schema's String, ID and Decimal scalars strict (idempotent; String and ID are
    graphql-core's shared scalars, so every schema in the process gets the string rule)."""
    for scalar in (GraphQLString, GraphQLID, schema.type_map.get("String"), schema.type_map.get("ID")):
        if isinstance(scalar, GraphQLScalarType):
            _harden_text_scalar(scalar)
    decimal = schema.type_map.get("Decimal")
    if isinstance(decimal, GraphQLScalarType):
        _harden_decimal_scalar(decimal)
    return schema


# --- null where a default exists ---------------------------------------------------------------------


def _null_for_default(name: str, node: Any = None, variable: str | None = None) -> GraphQLError:
    via = f" (variable ${variable})" if variable else ""
    return GraphQLError(
        f"`{name}` must not be null{via}: leave it out to get its default.",
        node,
        extensions={"code": BAD_USER_INPUT, "fields": {name: ["Must not be null; leave it out for the default."]}},
    )


class NullForDefaultRule(ValidationRule):
    """A literal `null` for an argument or input field that has a default."""

    def enter_argument(self, node: ArgumentNode, *args: Any) -> None:
        argument = self.context.get_argument()
        if isinstance(node.value, NullValueNode) and argument is not None and argument.default_value is not Undefined:
            self.report_error(_null_for_default(node.name.value, node))

    def enter_object_field(self, node: ObjectFieldNode, *args: Any) -> None:
        if isinstance(node.value, NullValueNode) and self.context._type_info.get_default_value() is not Undefined:
            self.report_error(_null_for_default(node.name.value, node))


class _VariableNullVisitor(Visitor):
    def __init__(self, type_info: TypeInfo, nulls: set[str]) -> None:
        super().__init__()
        self.type_info = type_info
        self.nulls = nulls
        self.errors: list[GraphQLError] = []
        self.position: list[str] = []

    def enter_argument(self, node: ArgumentNode, *args: Any) -> None:
        self.position.append(node.name.value)

    def leave_argument(self, *args: Any) -> None:
        self.position.pop()

    def enter_object_field(self, node: ObjectFieldNode, *args: Any) -> None:
        self.position.append(node.name.value)

    def leave_object_field(self, *args: Any) -> None:
        self.position.pop()

    def enter_variable(self, node: VariableNode, *args: Any) -> None:
        if node.name.value in self.nulls and self.position and self.type_info.get_default_value() is not Undefined:
            self.errors.append(_null_for_default(self.position[-1], node, node.name.value))


def variable_null_errors(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any] | None
) -> list[GraphQLError]:
    """Variables sent as null and used where an argument or input field has a default."""
    if not isinstance(variables, Mapping):
        return []
    nulls = {name for name, value in variables.items() if value is None}
    if not nulls:
        return []
    type_info = TypeInfo(schema)
    visitor = _VariableNullVisitor(type_info, nulls)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None or (definition.name is not None and definition.name.value == operation_name)
        ):
            visit(definition, TypeInfoVisitor(type_info, visitor))
    return visitor.errors


def _literal_problem(scalar: GraphQLScalarType, node: Any) -> str | None:
    if scalar.name == "Decimal":
        try:
            parse_strict_decimal(node.value)
        except GraphQLError as error:
            return error.message
        return None
    return string_problem(node.value) if isinstance(node, StringValueNode) else None


class NamedLiteralRule(ValidationRule):
    """A literal a strict scalar refuses, reported with the argument (or input field) it was given
    for; the scalar's own, unnamed report of the same node is dropped by `without_duplicates`."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.names: list[str] = []

    def enter_argument(self, node: ArgumentNode, *args: Any) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, *args: Any) -> None:
        self.names.pop()

    def enter_object_field(self, node: ObjectFieldNode, *args: Any) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, *args: Any) -> None:
        self.names.pop()

    def _check(self, node: Any) -> None:
        named = get_named_type(self.context.get_input_type())
        if not self.names or not isinstance(named, GraphQLScalarType) or not getattr(named, _HARDENED, False):
            return
        problem = _literal_problem(named, node)
        if problem:
            name = ".".join(self.names)
            self.report_error(
                GraphQLError(f"`{name}`: {problem}", node, extensions={"code": BAD_USER_INPUT, "fields": {name: [problem]}})
            )

    enter_string_value = enter_int_value = enter_float_value = lambda self, node, *args: self._check(node)


def without_duplicates(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Drop a validation error about a value node another error already names."""
    named = {id(node) for error in errors if error.extensions and error.extensions.get("fields") for node in error.nodes or ()}
    return [
        error for error in errors
        if (error.extensions and error.extensions.get("fields")) or not any(id(node) in named for node in error.nodes or ())
    ]


INPUT_RULES: tuple[type[ValidationRule], ...] = (NullForDefaultRule, NamedLiteralRule)


# --- request bodies ---------------------------------------------------------------------------------

# Django raises these while reading a body (a multipart body with a bad boundary, an oversized
# upload, ...); its own answer is an HTML page, so the GraphQL views turn them into JSON 400s.
def malformed_body_errors() -> tuple[type[Exception], ...]:
    from django.core.exceptions import BadRequest, SuspiciousOperation
    from django.http import UnreadablePostError
    from django.http.multipartparser import MultiPartParserError

    return (BadRequest, SuspiciousOperation, MultiPartParserError, UnreadablePostError, UnicodeDecodeError, RecursionError)



def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def request_problem(data: Any, limits: Limits = LIMITS) -> str | None:
    """Why a parsed GraphQL-over-HTTP body is malformed, or None."""
    if not isinstance(data, Mapping):
        return "The request body must be a JSON object."
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        return "`query` must be a non-empty string."
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, Mapping):
        return "`variables` must be an object or null."
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        return "`operationName` must be a string or null."
    if _too_deep(variables, limits.max_json_depth) or _too_deep(data.get("extensions"), limits.max_json_depth):
        return f"JSON nested deeper than {limits.max_json_depth} levels."
    return None
