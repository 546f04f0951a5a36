"""Property-based fuzzing of a GraphQL endpoint (hypothesis + hypothesis-graphql), for the tests
(tests/test_fuzz.py, bounded) and the long run (bench/fuzz_bench.py). Needs the dev requirements.

Whatever is sent (schema-valid queries and mutations with hostile literals, operations with
hostile JSON variables, garbage HTTP bodies), every answer must be clean: no 5xx, every error
has `extensions.code` and none is INTERNAL_SERVER_ERROR, and no internals (exception names,
tracebacks, SQL, file paths, driver or Node messages) appear anywhere in the response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import graphql
import httpx
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

# What must never reach a client. Each is specific enough not to appear in honest data.
INTERNALS = re.compile(
    r"Traceback \(most recent call last\)|File \"/|\.py\", line \d+|node_modules|at async |at Object\.|"
    r"\bpsycopg\b|\bdjango\.\w|\bgraphql\.(?:error|execution)\b|RecursionError|TypeError:|AttributeError|KeyError|"
    r"ValueError:|IntegrityError|ProgrammingError|DataError|OperationalError|InvalidOperation|UnicodeEncodeError|"
    r"SELECT .+ FROM|INSERT INTO|/work/|/usr/lib/|/site-packages/|ECONNREFUSED|SyntaxError: Unexpected token"
)
CLIENT_STATUSES = frozenset({200, 400, 401, 403, 404, 405, 406, 413, 415, 422, 429})

HOSTILE_STRINGS = [
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\u202egnp.exe", "\u200b", "NaN", "sNaN", "Infinity", "-Infinity",
    "-0", "1_000", "\u0661\u0662", " 12 ", "1e309", "9" * 400, "' OR 1=1 --", "%00", "../../etc/passwd", "{{7*7}}",
    "00000000-0000-0000-0000-000000000000", "null", "[]", "{}", "\\", '"', "\U0001f600" * 50,
]
hostile_text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=40))
# JSON values as a client may send them, hostile ones included (NUL, lone surrogates, huge numbers).
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=False, allow_infinity=False), hostile_text),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(hostile_text, children, max_size=4)),
    max_leaves=12,
)


# Strings a command accepts (SKUs, slugs, names, currencies, emails, passwords), so that creating
# mutations also succeed now and then (and conflict when the same value comes again).
plausible_text = st.one_of(
    st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8})?", fullmatch=True), st.sampled_from(["USD", "EUR", "Fuzz-pass-8142-x"]),
    st.from_regex(r"fuzz[0-9]{1,6}@example\.com", fullmatch=True),
)


def _object_node(values: dict[str, graphql.ValueNode]) -> graphql.ObjectValueNode:
    return graphql.ObjectValueNode(
        fields=tuple(graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in values.items())
    )


def _scalar_literals() -> st.SearchStrategy[graphql.ValueNode]:
    return st.one_of(
        hostile_text.map(nodes.String),
        st.integers(min_value=-(2**40), max_value=2**40).map(nodes.Int),
        st.sampled_from(["0", "12.50", "-3", "99999999999.999"]).map(nodes.String),
    )


def _entity_representations(schema: graphql.GraphQLSchema) -> st.SearchStrategy[graphql.ValueNode]:
    entity = schema.type_map.get("_Entity")
    typenames = [t.name for t in getattr(entity, "types", ())] or ["Unknown"]
    representation = st.builds(
        lambda typename, key: _object_node({"__typename": nodes.String(typename), "id": nodes.String(key)}),
        st.sampled_from(typenames), hostile_text,
    )
    return st.one_of(representation, _scalar_literals())


def custom_scalar_strategies(schema: graphql.GraphQLSchema,
                             ids: Sequence[str] = ()) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """A strategy for every non-built-in scalar of the schema, so new services need no code here.
    With `ids` (ids of rows that exist), ID arguments are one of them half of the time: commands
    then get past "not found" and succeed (updates, deletes, cart lines), which the row checks need."""
    builtin = {"Int", "Float", "String", "ID", "Boolean"}
    strategies: dict[str, st.SearchStrategy[graphql.ValueNode]] = {}
    for name, named in schema.type_map.items():
        if isinstance(named, graphql.GraphQLScalarType) and name not in builtin and not name.startswith("__"):
            strategies[name] = _entity_representations(schema) if name == "_Any" else _scalar_literals()
    strategies["String"] = st.one_of(hostile_text, plausible_text).map(nodes.String)
    if ids:
        strategies["ID"] = st.one_of(st.sampled_from(list(ids)), hostile_text).map(nodes.String)
    return strategies


@dataclass
class Findings:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)

    def count(self, status: int, codes: Iterable[str]) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        for code in codes:
            self.codes[code] = self.codes.get(code, 0) + 1


def check_response(response: httpx.Response, findings: Findings | None = None) -> None:
    """Assert the answer is clean (see the module docstring)."""
    text = response.text
    assert response.status_code < 500, f"{response.status_code}: {text[:400]}"
    assert response.status_code in CLIENT_STATUSES, f"unexpected status {response.status_code}: {text[:400]}"
    leak = INTERNALS.search(text)
    assert leak is None, f"internals in the response ({leak.group(0)!r}): {text[:400]}"
    codes: list[str] = []
    if text.strip():
        try:
            body = response.json()
        except ValueError:
            raise AssertionError(f"not JSON ({response.status_code}): {text[:200]}") from None
        for item in body if isinstance(body, list) else [body]:
            for error in (item or {}).get("errors") or []:
                code = (error.get("extensions") or {}).get("code")
                assert code, f"error without extensions.code: {error}"
                assert code != "INTERNAL_SERVER_ERROR", f"INTERNAL_SERVER_ERROR: {error}"
                codes.append(code)
    if findings is not None:
        findings.count(response.status_code, codes)


def root_fields(schema: graphql.GraphQLSchema, root: graphql.GraphQLObjectType | None, excluded: Iterable[str]) -> list[str]:
    return sorted(set(root.fields) - set(excluded)) if root is not None else []


def operations(schema: graphql.GraphQLSchema, kind: str, excluded: Iterable[str] = (),
               ids: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Schema-valid query or mutation documents (hostile literals), without the excluded root fields."""
    scalars = custom_scalar_strategies(schema, ids)
    if kind == "query":
        fields = root_fields(schema, schema.query_type, excluded)
        return queries(schema, fields=fields, custom_scalars=scalars) if fields else st.just("{ __typename }")
    fields = root_fields(schema, schema.mutation_type, excluded)
    return mutations(schema, fields=fields, custom_scalars=scalars) if fields else st.just("{ __typename }")


def plausible_mutations(schema: graphql.GraphQLSchema, excluded: Iterable[str] = (),
                        ids: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Mutations with arguments a command may well accept (valid-looking strings, small numbers,
    prices, existing `ids`, no nulls), so creates, updates, deletes and cart lines succeed often:
    what the row checks of their successes need (hostile literals rarely get past validation)."""
    scalars: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
        name: st.sampled_from(["5.00", "12.50", "0.99", "1"]).map(nodes.String)
        for name in custom_scalar_strategies(schema) if name != "_Any"
    }
    if "_Any" in scalars or "_Any" in schema.type_map:
        scalars["_Any"] = _entity_representations(schema)
    scalars["String"] = plausible_text.map(nodes.String)
    scalars["Int"] = st.one_of(st.integers(min_value=1, max_value=5), st.sampled_from([0, -1, 100])).map(nodes.Int)
    if ids:
        scalars["ID"] = st.sampled_from(list(ids)).map(nodes.String)
    fields = root_fields(schema, schema.mutation_type, excluded)
    if not fields:
        return st.just("{ __typename }")
    # One root field per document: with several, the first failing non-null one nulls `data` and
    # the others' outcomes are unknown.
    return st.sampled_from(fields).flatmap(
        lambda name: mutations(schema, fields=[name], custom_scalars=scalars, allow_null=False))


def _selection(named: graphql.GraphQLNamedType) -> str:
    if isinstance(named, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType | graphql.GraphQLUnionType):
        return " { __typename }"
    return ""


@st.composite
def operations_with_variables(draw: Any, schema: graphql.GraphQLSchema, excluded: Iterable[str] = (),
                              ids: Sequence[str] = ()) -> tuple[str, dict]:
    """One root field with every argument passed as a variable, and hostile JSON for the variables."""
    candidates = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        for name in root_fields(schema, root, excluded):
            if root.fields[name].args:  # type: ignore[union-attr]
                candidates.append((kind, name, root.fields[name]))  # type: ignore[union-attr]
    if not candidates:
        return "{ __typename }", {}
    kind, name, definition = draw(st.sampled_from(candidates))
    declarations = ", ".join(f"${arg}: {a.type}" for arg, a in definition.args.items())
    arguments = ", ".join(f"{arg}: ${arg}" for arg in definition.args)
    document = f"{kind}({declarations}) {{ {name}({arguments}){_selection(graphql.get_named_type(definition.type))} }}"
    values = {arg: st.one_of(st.sampled_from(list(ids)), json_values)
              if ids and graphql.get_named_type(a.type).name == "ID" else json_values
              for arg, a in definition.args.items()}
    chosen = draw(st.lists(st.sampled_from(list(definition.args)), unique=True, max_size=len(definition.args)))
    variables = {arg: draw(values[arg]) for arg in chosen}
    return document, variables


malformed_bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.builds(lambda q, v: json.dumps({"query": q, "variables": v}).encode(), json_values, json_values),
    st.sampled_from([b"{", b"[", b"[null]", b"null", b"[[]]", b'{"query": 12345}',
                     b'{"query": "{ __typename }", "variables": "x"}', b"query=%", b"query=%E0%A4%A", b"\xff\xfe\x00",
                     b'{"query":"{__typename}","variables":{"a":' + b"[" * 5000 + b"]" * 5000 + b"}}"]),
)
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "application/graphql",
                                 "multipart/form-data; boundary=x", "text/plain", "application/json; charset=latin-1"])


def post_document(client: httpx.Client, url: str, document: str, variables: dict | None = None,
                  headers: dict[str, str] | None = None) -> httpx.Response:
    payload = json.dumps({"query": document, "variables": variables or {}})  # lone surrogates travel as escapes
    return client.post(url, content=payload, headers={"content-type": "application/json", **(headers or {})})
