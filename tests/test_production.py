"""Production mode: no introspection, no GraphiQL, no schema hints, no internals in errors."""

from __future__ import annotations

import httpx
import pytest
from common.testing.net import free_port
from conftest import service_names


def test_introspection_is_disabled(prod_gateway):
    for query in ("{ __schema { types { name } } }", '{ __type(name: "Product") { fields { name } } }'):
        body = prod_gateway.execute(query)
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in body["errors"][0]["message"].lower()
        assert body.get("data") is None


def test_typename_still_works(prod_gateway):
    assert prod_gateway.data("{ __typename }") == {"__typename": "Query"}


def test_graphiql_is_not_served(prod_gateway):
    page = httpx.get(prod_gateway.url, headers={"accept": "text/html"})
    assert "<html" not in page.text.lower()
    assert page.status_code < 500


def test_field_suggestions_are_hidden(gateway, prod_gateway):
    assert "Did you mean" in gateway.error("{ productz }")["message"]  # development helps
    message = prod_gateway.error("{ productz }")["message"]
    assert "Did you mean" not in message and "products" not in message.replace("productz", "")


def test_client_errors_from_subgraphs_pass_through_with_their_code(prod_gateway):
    error = prod_gateway.error("{ products(first: 0) { totalCount } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "`first` must be between 1 and 100."


def test_no_cors_headers_without_configured_origins(prod_gateway):
    preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    response = httpx.options(prod_gateway.url, headers=preflight)
    assert "access-control-allow-origin" not in response.headers


def test_a_crashing_subgraph_is_masked(catalog_proxy, gateway):
    proxy, url = catalog_proxy
    proxy.crash = True
    try:
        response = httpx.post(f"{url}/graphql", json={"query": "{ products(first: 3) { totalCount } }"})
    finally:
        proxy.crash = False
    assert response.status_code < 500
    body = response.json()
    text = response.text.lower()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert body["errors"][0]["message"] == "Unexpected error."
    for leak in ("traceback", "secret", "127.0.0.1", "stack", "originalerror", "http://"):
        assert leak not in text, leak


def test_an_unreachable_subgraph_is_masked(platform, tmp_path):
    supergraph = tmp_path / "supergraph.graphql"
    dead = f"http://127.0.0.1:{free_port()}/graphql/"  # nothing listens there
    supergraph.write_text(platform.supergraph.read_text().replace(f'"{platform.subgraphs["catalog"]}"', f'"{dead}"'))
    url = platform.start_gateway("e2e-gateway-dead", production=True, supergraph=supergraph)
    response = httpx.post(f"{url}/graphql", json={"query": "{ products(first: 3) { totalCount } }"})
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert response.json()["errors"][0] == {"message": "Unexpected error.", "path": ["products"],
                                            "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    health = httpx.get(f"{url}/health")
    assert health.status_code == 503
    assert health.json()["subgraphs"]["catalog"]["status"] == "unreachable"
    assert "url" not in health.json()["subgraphs"]["catalog"]  # no internal addresses in production


@pytest.mark.skipif("accounts" not in service_names(), reason="needs a second subgraph")
def test_one_dead_subgraph_does_not_take_the_others_down(platform, tmp_path):
    supergraph = tmp_path / "supergraph.graphql"
    dead = f"http://127.0.0.1:{free_port()}/graphql/"
    supergraph.write_text(platform.supergraph.read_text().replace(f'"{platform.subgraphs["accounts"]}"', f'"{dead}"'))
    url = platform.start_gateway("e2e-gateway-partial", production=True, supergraph=supergraph)
    response = httpx.post(f"{url}/graphql", json={"query": "{ products(first: 2) { totalCount } me { id } }"})
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["products"]["totalCount"] > 0  # catalog still answers
    assert body["data"]["me"] is None
    assert body["errors"] == [{"message": "Unexpected error.", "path": ["me"], "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
