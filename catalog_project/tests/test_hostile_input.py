"""Issue 13 in the catalog subgraph itself: strict prices, names that cannot spoof, the request limits
and the input rules of common.graphql, without the gateway in front."""

from __future__ import annotations

from decimal import Decimal

import pytest
from catalog.models import Product

pytestmark = pytest.mark.django_db

CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id price { amount } } } }"
CREATE_CATEGORY = "mutation($input: CreateCategoryInput!) { createCategory(input: $input) { category { id } } }"


def codes(body: dict) -> set[str]:
    return {error["extensions"]["code"] for error in body.get("errors") or []}


@pytest.mark.parametrize("price", ["1_000", "١٢", "12 ", " 12", "\t12", "1e3", "NaN", "sNaN", "Infinity", "-Infinity",
                                   "+5", "0x10", "", "12.", ".5", "\uff11\uff12"])
def test_prices_are_parsed_strictly(gql, price):
    body = gql.execute(CREATE, {"input": {"sku": "P-1", "name": "Lamp", "price": price}})
    assert codes(body) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"} and body["errors"], body
    assert "$input" in body["errors"][0]["message"] or "price" in str(body["errors"][0])
    assert not Product.objects.exists()


def test_negative_zero_is_stored_as_zero(gql):
    product = gql.data(CREATE, {"input": {"sku": "P-0", "name": "Free", "price": "-0"}})["createProduct"]["product"]
    assert product["price"]["amount"] == "0.00"
    stored = Product.objects.get(sku="P-0").price
    assert stored == 0 and not stored.is_signed()
    literal = gql.data('mutation { createProduct(input: {sku: "P-00", name: "Free", price: "-0.00"}) { product { id } } }')
    assert not Product.objects.get(pk=literal["createProduct"]["product"]["id"]).price.is_signed()
    assert Decimal("-0").is_signed()  # what used to be stored


@pytest.mark.parametrize("name", ["Lamp\u202egnp.exe", "Lamp\u2066x", "La\u200bmp", "\ufeffLamp", "Lamp\u0007", "Lamp\nLamp"])
def test_names_refuse_bidi_zero_width_and_control_characters(gql, name):
    body = gql.execute(CREATE, {"input": {"sku": "P-2", "name": name, "price": "1.00"}})
    assert codes(body) == {"BAD_USER_INPUT"}
    assert "name" in body["errors"][0]["extensions"]["fields"]
    body = gql.execute(CREATE_CATEGORY, {"input": {"name": name}})
    assert codes(body) == {"BAD_USER_INPUT"}
    assert not Product.objects.exists()


def test_descriptions_may_have_line_breaks_but_no_bidi_overrides(gql):
    ok = gql.execute(CREATE, {"input": {"sku": "P-3", "name": "Lamp", "price": "1.00", "description": "Line 1\nLine 2"}})
    assert not ok.get("errors")
    body = gql.execute(CREATE, {"input": {"sku": "P-4", "name": "Lamp", "price": "1.00", "description": "x\u202ey"}})
    assert "description" in body["errors"][0]["extensions"]["fields"]


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "\udfff"])
def test_nul_and_lone_surrogates_never_reach_the_database(gql, text):
    for query, variables in [
        (CREATE, {"input": {"sku": "P-5", "name": text, "price": "1.00"}}),
        ("query($s: String) { products(filter: {search: $s}) { totalCount } }", {"s": text}),
        ("query($s: String!) { productBySku(sku: $s) { id } }", {"s": text}),
        ("query($s: ID!) { product(id: $s) { id } }", {"s": text}),
    ]:
        body = gql.execute(query, variables)
        assert codes(body) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"} and body["errors"], body
    assert not Product.objects.exists()


def test_nul_in_a_literal_names_the_argument(gql):
    body = gql.execute('{ productBySku(sku: "a\\u0000b") { id } }')
    assert codes(body) == {"BAD_USER_INPUT"}
    assert body["errors"][0]["extensions"]["fields"] == {"sku": ["must not contain NUL characters"]}


@pytest.mark.parametrize("query", ["{ products(first: null) { totalCount } }", "{ products(orderBy: null) { totalCount } }"])
def test_null_for_an_argument_with_a_default_names_it(gql, query):
    body = gql.execute(query)
    assert codes(body) == {"BAD_USER_INPUT"}
    assert set(body["errors"][0]["extensions"]["fields"]) <= {"first", "orderBy"}


def test_limits_without_the_gateway(gql):
    aliases = " ".join(f"a{i}: products(first: 100) {{ totalCount }}" for i in range(2000))
    assert codes(gql.execute("{ " + aliases + " }")) <= {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}
    deep = "{ categories { " + "children { " * 50 + "id" + " }" * 50 + " } }"
    assert "depth limit" in gql.execute(deep)["errors"][0]["message"]
    assert codes(gql.execute("{ categories { children { children { children { id } } } } }")) == {"COST_ESTIMATED_TOO_EXPENSIVE"}
    many = [{"__typename": "Product", "id": "x"}] * 10_000
    body = gql.execute("query($r: [_Any!]!) { _entities(representations: $r) { __typename } }", {"r": many})
    assert codes(body) <= {"BAD_USER_INPUT", "COST_ESTIMATED_TOO_EXPENSIVE"} and body["errors"]


def test_a_legitimate_page_with_categories_is_within_the_limits(gql):
    page = "{ products(first: 100) { edges { node { id name price { amount } category { name parent { name } } } } } }"
    body = gql.execute(page)
    assert not body.get("errors"), body
