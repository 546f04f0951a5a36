"""Hostile input, through the gateway and straight at each subgraph (issue 13): every class of bad
input gets a client error with extensions.code naming what was wrong; never a 5xx, never
INTERNAL_SERVER_ERROR, never internals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
INTERNALS = ("Traceback", "File \"/", "node_modules", ".py\"", "psycopg", "RecursionError", "at async", "at Object.")


def clean(response: httpx.Response) -> dict:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    for marker in INTERNALS:
        assert marker not in response.text, (marker, response.text[:300])
    body = response.json()
    for error in body.get("errors") or []:
        code = error.get("extensions", {}).get("code")
        assert code and code != "INTERNAL_SERVER_ERROR", error
    return body


def codes(body: dict) -> set[str]:
    return {error["extensions"]["code"] for error in body.get("errors") or []}


@pytest.fixture(scope="module")
def endpoints(platform, gateway):
    """The gateway and every subgraph, reached directly."""
    targets = {"gateway": gateway.url}
    targets.update(platform.subgraphs)
    return targets


def post(url: str, query: str, variables: dict | None = None, **kwargs) -> dict:
    return clean(httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=30, **kwargs))


# --- subgraph limits ----------------------------------------------------------------------------------


def test_catalog_subgraph_refuses_alias_floods(platform):
    url = platform.subgraphs["catalog"]
    flood = " ".join(f"a{i}: products(first: 100) {{ totalCount }}" for i in range(2000))
    body = post(url, "{ " + flood + " }")
    assert codes(body) <= {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}, body
    sixteen = " ".join(f"a{i}: __typename" for i in range(16))  # __typename aliases count too
    assert "Aliases limit of 15" in post(url, "{ " + sixteen + " }")["errors"][0]["message"]


@pytest.mark.parametrize("name", ["gateway", "catalog", "accounts"])
def test_typename_aliases_count_everywhere(endpoints, name):
    sixteen = " ".join(f"a{i}: __typename" for i in range(16))
    body = post(endpoints[name], "{ " + sixteen + " }")
    assert codes(body) == {"GRAPHQL_VALIDATION_FAILED"}, body
    fifteen = " ".join(f"a{i}: __typename" for i in range(15))
    assert not post(endpoints[name], "{ " + fifteen + " }").get("errors")


def test_catalog_subgraph_refuses_depth_and_cost(platform):
    url = platform.subgraphs["catalog"]
    deep = "{ categories { " + "children { " * 50 + "id" + " }" * 50 + " } }"
    assert "depth limit of 10" in post(url, deep)["errors"][0]["message"].lower()
    expensive = "{ categories { children { children { children { id } } } } }"
    assert codes(post(url, expensive)) == {"COST_ESTIMATED_TOO_EXPENSIVE"}
    # `first` sent as a variable counts at its value.
    many = " ".join(f"a{i}: products(first: $n) {{ edges {{ node {{ category {{ children {{ id }} }} }} }} }}" for i in range(5))
    assert codes(post(url, "query($n: Int) { " + many + " }", {"n": 100})) == {"COST_ESTIMATED_TOO_EXPENSIVE"}
    assert not post(url, "query($n: Int) { " + many + " }", {"n": 2}).get("errors")


@pytest.mark.parametrize("name", ["catalog", "accounts"])
def test_subgraph_token_limit(platform, name):
    body = post(platform.subgraphs[name], "{ " + " ".join(["__typename"] * 2100) + " }")
    assert codes(body) == {"GRAPHQL_PARSE_FAILED"}
    assert "2000 tokens" in body["errors"][0]["message"]


@pytest.mark.parametrize("name", ["catalog", "accounts"])
def test_entities_are_capped_and_must_be_objects(platform, name):
    url = platform.subgraphs[name]
    typename = {"catalog": "Product", "accounts": "User"}[name]
    query = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
    many = [{"__typename": typename, "id": f"00000000-0000-0000-0000-{i:012d}"} for i in range(101)]
    body = post(url, query, {"r": many})
    assert codes(body) == {"BAD_USER_INPUT"}
    assert "representations" in body["errors"][0]["extensions"]["fields"]
    assert not post(url, query, {"r": many[:100]}).get("errors")
    for bad in ([1], ["x"], [[]], [{"id": "1"}], [None]):
        assert codes(post(url, query, {"r": bad})) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}, bad


def test_catalog_inline_entities_literals_work_like_variables(platform, gateway):
    url = platform.subgraphs["catalog"]  # straight from the subgraph: no cached page naming a deleted product
    product = post(url, "{ products(first: 1) { edges { node { id sku } } } }")["data"]["products"]["edges"][0]["node"]
    representation = '{__typename: "Product", id: "' + product["id"] + '"}'
    inline = "{ _entities(representations: [" + representation + "]) { ... on Product { sku } } }"
    assert post(url, inline)["data"]["_entities"] == [{"sku": product["sku"]}]
    flood = ", ".join(['{__typename: "Product", id: "x"}'] * 101)
    literal_flood = "{ _entities(representations: [" + flood + "]) { __typename } }"
    assert codes(post(url, literal_flood)) == {"BAD_USER_INPUT"}


# --- plain bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables", "argument"),
    [
        ("{ products(first: null) { totalCount } }", None, "first"),
        ("{ products(orderBy: null) { totalCount } }", None, "orderBy"),
        ("query($n: Int) { products(first: $n) { totalCount } }", {"n": None}, "first"),
        ("query($o: ProductOrderBy) { products(orderBy: $o) { totalCount } }", {"o": None}, "orderBy"),
    ],
)
@pytest.mark.parametrize("target", ["gateway", "catalog"])
def test_null_for_an_argument_with_a_default(endpoints, target, query, variables, argument):
    body = post(endpoints[target], query, variables)
    assert codes(body) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}, body
    assert argument in json.dumps(body["errors"]), body


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN", "1_000", "١٢", " 12", "12 ", "1e3", ""])
@pytest.mark.parametrize("target", ["gateway", "catalog"])
def test_decimal_inputs_are_strict(endpoints, target, value):
    query = "query($p: Decimal) { products(first: 1, filter: {minPrice: $p}) { totalCount } }"
    body = post(endpoints[target], query, {"p": value})
    assert codes(body) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}, body
    assert "$p" in body["errors"][0]["message"]
    literal = '{ products(first: 1, filter: {maxPrice: "' + value + '"}) { totalCount } }'
    assert codes(post(endpoints[target], literal)) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfffy"])
@pytest.mark.parametrize("target", ["gateway", "catalog", "accounts"])
def test_nul_and_lone_surrogates_in_strings(endpoints, target, text):
    if target == "accounts":
        query, variables = "mutation($e: String!) { login(email: $e, password: $e) { accessToken } }", {"e": text}
    else:
        query, variables = "query($s: String) { products(first: 1, filter: {search: $s}) { totalCount } }", {"s": text}
    payload = json.dumps({"query": query, "variables": variables})  # \ud800 travels as a JSON escape
    response = httpx.post(endpoints[target], content=payload, headers={"content-type": "application/json"}, timeout=30)
    body = clean(response)
    assert codes(body) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}, body
    document = '{ productBySku(sku: "' + json.dumps(text)[1:-1] + '") { id } }'
    sku = httpx.post(endpoints[target], content=json.dumps({"query": document}), headers={"content-type": "application/json"},
                     timeout=30)
    if target != "accounts":  # a lone surrogate escape in the document itself is a syntax error
        assert codes(clean(sku)) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}


# --- malformed HTTP -----------------------------------------------------------------------------------


def deep_json(levels: int) -> bytes:
    return b'{"query": "{ __typename }", "variables": {"x": ' + b"[" * levels + b"]" * levels + b"}}"


@pytest.mark.parametrize("name", ["gateway", "catalog", "accounts"])
@pytest.mark.parametrize(
    "content",
    [b'{"query": 12345}', b'{"query": ["{ __typename }"]}', b'{"query": "{ __typename }", "variables": 5}',
     b'{"query": "{ __typename }", "operationName": 7}', b"[1, 2]", b"[null]", b'[{"query": "{ __typename }"}, null]',
     b"12", b"null", b"{not json",
     b"\xff\xfe\x00garbage"],
)
def test_malformed_bodies_are_400(endpoints, name, content):
    response = httpx.post(endpoints[name], content=content, headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert codes(clean(response)) <= {"BAD_REQUEST", "OPERATION_RESOLUTION_FAILURE"}


@pytest.mark.parametrize("name", ["gateway", "catalog", "accounts"])
def test_deeply_nested_json_is_400(endpoints, name):
    # At the gateway the body limit (64 KiB) comes first for the 100 000-deep one.
    content = deep_json(20_000) if name == "gateway" else deep_json(100_000)
    response = httpx.post(endpoints[name], content=content, headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code in (400, 413), (response.status_code, response.text[:300])
    clean(response)
    response = httpx.post(endpoints[name], content=deep_json(100), headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 400
    assert codes(clean(response)) == {"BAD_REQUEST"}


@pytest.mark.parametrize(
    "content",
    [b"query=%", b"query=%E0%A4%A", b"query=%7B__typename%7D&variables=%7Bnot", b"variables=%",
     b"query=%7B__typename%7D&extensions=%5B", b"query=%7B__typename%7D&variables=5", b"\xff\xfe=\x00"],
)
def test_gateway_malformed_form_bodies_are_clean_4xx(gateway, prod_gateway, content):
    for url in (gateway.url, prod_gateway.url):
        response = httpx.post(url, content=content, headers={"content-type": "application/x-www-form-urlencoded"}, timeout=30)
        body = clean(response)
        if response.status_code == 200:  # the body decoded to a query that does not parse, or to none
            assert codes(body) <= {"GRAPHQL_PARSE_FAILED", "BAD_REQUEST"} and body["errors"]
        else:
            assert response.status_code == 400, (response.status_code, response.text[:300])
            assert codes(body) == {"BAD_REQUEST"}


def test_gateway_never_allows_the_null_origin(gateway):
    for origin in ("null", "http://evil.example"):
        response = httpx.options(gateway.url, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}, timeout=30)
        assert "access-control-allow-origin" not in response.headers, response.headers
        response = httpx.post(gateway.url, json={"query": "{ __typename }"}, headers={"Origin": origin}, timeout=30)
        assert "access-control-allow-origin" not in response.headers
    allowed = httpx.post(gateway.url, json={"query": "{ __typename }"}, headers={"Origin": "http://localhost:3000"}, timeout=30)
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_gateway_and_subgraphs_read_the_same_limits():
    import subprocess

    from common.graphql.limits import load_limits

    script = "import('./lib/settings.mjs').then((m) => console.log(JSON.stringify(m.settings)))"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GATEWAY_", "GRAPHQL_"))}
    output = subprocess.run(["node", "-e", script], cwd=ROOT / "gateway", env=env, capture_output=True, text=True, check=True)
    gateway = json.loads(output.stdout)
    python = load_limits(environ={})
    assert (gateway["maxDepth"], gateway["maxAliases"], gateway["maxDirectives"], gateway["maxTokens"]) == (
        python.max_depth, python.max_aliases, python.max_directives, python.max_tokens)
    assert (gateway["maxCost"], gateway["costListSize"], gateway["maxBodyBytes"], gateway["maxBatch"]) == (
        python.max_cost, python.cost_list_size, python.max_body_bytes, python.max_batch)
    assert load_limits(environ={"GRAPHQL_MAX_DEPTH": "7"}).max_depth == 7
