"""What the gateway forwards to subgraphs: Authorization, X-Cart-Id and a correlation id; nothing else."""

from __future__ import annotations

import re
import uuid

import httpx
from test_protections import FAKE_JWT

PRODUCTS = "{ products(first: 1) { edges { node { id } } } }"


def last_forwarded(proxy, before: int) -> dict[str, str]:
    assert len(proxy.requests) > before, "the subgraph received nothing"
    return proxy.requests[-1]


def test_client_correlation_id_reaches_the_subgraph_and_comes_back(catalog_proxy):
    proxy, url = catalog_proxy
    correlation_id = f"e2e-{uuid.uuid4()}"
    before = len(proxy.requests)
    response = httpx.post(f"{url}/graphql", json={"query": PRODUCTS}, headers={"X-Correlation-ID": correlation_id})
    assert response.status_code == 200 and "errors" not in response.json()
    assert response.headers["x-correlation-id"] == correlation_id
    assert last_forwarded(proxy, before)["x-correlation-id"] == correlation_id


def test_missing_correlation_id_is_generated_and_forwarded(catalog_proxy):
    proxy, url = catalog_proxy
    before = len(proxy.requests)
    response = httpx.post(f"{url}/graphql", json={"query": PRODUCTS + " # fresh"})
    generated = response.headers["x-correlation-id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", generated)
    assert last_forwarded(proxy, before)["x-correlation-id"] == generated
    again = httpx.post(f"{url}/graphql", json={"query": PRODUCTS})
    assert again.headers["x-correlation-id"] != generated


def test_authorization_and_cart_headers_are_forwarded_others_are_not(catalog_proxy):
    proxy, url = catalog_proxy
    before = len(proxy.requests)
    cart_id = uuid.uuid4().hex
    httpx.post(
        f"{url}/graphql",
        json={"query": PRODUCTS + " # with headers"},
        headers={"Authorization": f"Bearer {FAKE_JWT}", "X-Cart-Id": cart_id, "Cookie": "sessionid=secret",
                 "User-Agent": "e2e-shop/1.0", "X-Internal-Admin": "1"},
    )
    forwarded = last_forwarded(proxy, before)
    assert forwarded["authorization"] == f"Bearer {FAKE_JWT}"
    assert forwarded["x-cart-id"] == cart_id
    assert forwarded["user-agent"] == "e2e-shop/1.0"
    assert "cookie" not in forwarded
    assert "x-internal-admin" not in forwarded


def test_client_address_is_appended_to_x_forwarded_for(catalog_proxy):
    # A client may claim any chain; the entry the gateway appends (its peer address) is the trusted one.
    proxy, url = catalog_proxy
    before = len(proxy.requests)
    httpx.post(f"{url}/graphql", json={"query": PRODUCTS + " # spoofed"}, headers={"X-Forwarded-For": "10.0.0.1"})
    assert last_forwarded(proxy, before)["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    before = len(proxy.requests)
    httpx.post(f"{url}/graphql", json={"query": PRODUCTS + " # direct"})
    assert last_forwarded(proxy, before)["x-forwarded-for"] == "127.0.0.1"


def test_requests_without_credentials_forward_none(catalog_proxy):
    proxy, url = catalog_proxy
    before = len(proxy.requests)
    httpx.post(f"{url}/graphql", json={"query": PRODUCTS + " # anonymous"})
    forwarded = last_forwarded(proxy, before)
    assert "authorization" not in forwarded
    assert "x-cart-id" not in forwarded
