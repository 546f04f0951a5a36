"""The shared request limits and input rules (common.graphql.limits, .inputs, .documents)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from common.graphql.documents import prepare, request_errors
from common.graphql.errors import format_error
from common.graphql.inputs import harden_scalars, parse_strict_decimal, request_problem
from common.graphql.limits import LIMITS, estimate_cost, load_limits
from django.db.utils import OperationalError
from graphql import GraphQLError, build_schema, execute, parse

SDL = """
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!]) on FIELD_DEFINITION
scalar Decimal
scalar _Any
type Query {
  items(first: Int = 20, after: String): ItemConnection! @listSize(slicingArguments: ["first"], sizedFields: ["edges"])
  tree: [Node!]! @listSize(assumedSize: 100)
  unsized: [Node]
  item(id: ID!, min: Decimal, order: Order = NAME): Node
  search(text: String, filter: Filter): Int
  _entities(representations: [_Any!]!): [Node]!
}
input Filter { limit: Int = 10, text: String }
enum Order { NAME PRICE }
type ItemConnection { edges: [Edge!]! total: Int! }
type Edge { node: Node! }
type Node { id: ID! children: [Node!]! @listSize(assumedSize: 20) parent: Node }
type Mutation { touch(id: ID!): Node }
"""
schema = harden_scalars(build_schema(SDL))


def errors(query: str, variables: dict | None = None) -> list[str]:
    prepared = prepare(schema, query)
    found = list(prepared.errors)
    if prepared.document is not None and not found:
        found = request_errors(schema, prepared.document, None, variables)
    if prepared.document is not None and not found:  # variables are coerced at execution
        found = list(execute(schema, prepared.document, variable_values=variables).errors or [])
    return [format_error(error)["extensions"]["code"] for error in found]


def cost(query: str, variables: dict | None = None) -> int:
    return estimate_cost(schema, parse(query), None, variables)


def test_cost_follows_list_size_slicing_and_sized_fields():
    assert cost("{ items(first: 100) { edges { node { id } } total } }") == 1 + 100 * (1 + 1)
    assert cost("{ items { edges { node { id } } } }") == 1 + 20 * 2  # the argument's default
    assert cost("query($n: Int) { items(first: $n) { edges { node { id } } } }", {"n": 3}) == 1 + 3 * 2
    assert cost("{ tree { children { id } } }") == 100 * (1 + 20)
    assert cost("{ unsized { id } }") == LIMITS.cost_list_size
    assert cost("mutation { touch(id: 1) { id } }") == 10
    assert cost('{ _entities(representations: [{a: 1}, {a: 2}]) { id } }') == 2


def test_depth_aliases_directives_and_cost_are_refused():
    deep = errors("{ item(id: 1) { " + "parent { " * 12 + "id" + " }" * 12 + " } }")
    assert deep == ["GRAPHQL_VALIDATION_FAILED"]
    assert errors("{ item(id: 1) { " + "parent { " * 8 + "id" + " }" * 8 + " } }") == []
    assert errors("{ " + " ".join(f"a{i}: __typename" for i in range(16)) + " }") == ["GRAPHQL_VALIDATION_FAILED"]
    assert set(errors("{ __typename " + "@include(if: true) " * 21 + "}")) == {"GRAPHQL_VALIDATION_FAILED"}
    assert errors("{ tree { children { children { id } } } }") == ["COST_ESTIMATED_TOO_EXPENSIVE"]
    assert errors("{ " + "__typename " * 2100 + "}") == ["GRAPHQL_PARSE_FAILED"]


def test_entities_literals_and_variables_are_capped():
    many = ", ".join(["{a: 1}"] * 101)
    assert "BAD_USER_INPUT" in errors("{ _entities(representations: [" + many + "]) { id } }")


def test_fragment_bombs_are_measured_in_linear_time():
    fragments = ["fragment f0 on Node { id }"] + [
        f"fragment f{i} on Node {{ a{i}: parent {{ ...f{i - 1} }} b{i}: parent {{ ...f{i - 1} }} }}" for i in range(1, 40)
    ]
    started = time.perf_counter()
    found = errors("{ item(id: 1) { ...f39 } } " + " ".join(fragments))
    assert time.perf_counter() - started < 2
    assert "GRAPHQL_VALIDATION_FAILED" in found


def test_null_for_a_defaulted_argument_or_input_field_is_named():
    for query, variables in [
        ("{ item(id: 1, order: null) { id } }", None),
        ("{ search(filter: {limit: null}) }", None),
        ("query($o: Order) { item(id: 1, order: $o) { id } }", {"o": None}),
    ]:
        assert errors(query, variables) == ["BAD_USER_INPUT"], query
    assert errors("{ search(text: null) }") == []  # no default: null is a value


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-Infinity", "1_000", "\u0661", " 1", "1 ", "1e5", "", "+1"])
def test_strict_decimal_refuses(text):
    with pytest.raises(GraphQLError):
        parse_strict_decimal(text)
    assert errors("query($m: Decimal) { item(id: 1, min: $m) { id } }", {"m": text}) == ["GRAPHQL_VALIDATION_FAILED"]
    assert errors('{ item(id: 1, min: "' + text + '") { id } }') == ["BAD_USER_INPUT"]


def test_strict_decimal_accepts_plain_numbers_and_reads_negative_zero_as_zero():
    assert parse_strict_decimal("12.50") == Decimal("12.50")
    assert not parse_strict_decimal("-0").is_signed()
    assert parse_strict_decimal(3) == 3 and parse_strict_decimal(2.5) == Decimal("2.5")


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfff"])
def test_strings_and_ids_refuse_nul_and_lone_surrogates(text):
    assert errors("query($s: String) { search(text: $s) }", {"s": text}) == ["GRAPHQL_VALIDATION_FAILED"]
    assert errors("query($s: ID!) { item(id: $s) { id } }", {"s": text}) == ["GRAPHQL_VALIDATION_FAILED"]


def test_request_problems():
    assert request_problem({"query": 12345})
    assert request_problem({"query": "{ a }", "variables": []})
    assert request_problem({"query": "{ a }", "operationName": 5})
    shallow = load_limits(environ={"GRAPHQL_MAX_JSON_DEPTH": "3"})
    assert request_problem({"query": "{ a }", "variables": {"x": [[[[[]]]]]}}, shallow)
    assert request_problem([]) and request_problem(None)
    assert request_problem({"query": "{ a }", "variables": {"x": 1}}) is None


def test_a_lost_database_connection_is_service_unavailable_not_internal():
    error = GraphQLError("boom", original_error=OperationalError("terminating connection due to administrator command"))
    formatted = format_error(error)
    assert formatted["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "administrator" not in str(formatted)


def test_a_database_refusing_connections_outside_execution_is_service_unavailable():
    """Seen with a full cluster: a mutation's transaction.atomic() could not connect, before execution."""
    formatted = format_error(OperationalError("FATAL:  sorry, too many clients already"))
    assert formatted == {"message": "The service is temporarily unavailable; try again later.",
                         "extensions": {"code": "SERVICE_UNAVAILABLE"}}


def test_env_overrides_the_shared_file():
    assert load_limits(environ={"GRAPHQL_MAX_ALIASES": "3"}).max_aliases == 3
    assert load_limits(environ={}).max_aliases == 15


def test_the_gateways_response_cache_aliases_are_not_counted():
    # What the gateway sends for a 15-alias client query: 16 more aliases of its own.
    query = "{ " + " ".join(f"a{i}: item(id: {i}) {{ id __responseCacheTypeName: __typename }}" for i in range(15))
    assert errors(query + " __responseCacheTypeName: __typename }") == []
    assert errors(query + " a15: __typename }") == ["GRAPHQL_VALIDATION_FAILED"]
