"""The gateway's response cache (docs/caching.md, layer 3): public catalog answers are served from Redis,
invalidated by the catalog's change messages, never shared between users, and can be switched off."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from common.testing.polling import eventually
from conftest import GraphQL, Platform, RecordingProxy, service_names
from test_story_accounts import CATALOG_MANAGER, REGISTER, bearer, login

needs_accounts = pytest.mark.skipif("accounts" not in service_names(), reason="services.json has no accounts service yet")

PRODUCT = "query($id: ID!) { product(id: $id) { id name price { amount } } }"
UPDATE_PRODUCT = """
mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { product { id name } } }
"""
CREATE_PRODUCT = "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id name } } }"
NEWEST = "{ products(first: 5, orderBy: NEWEST) { edges { node { id name } } } }"


def unique(query: str) -> str:
    """The same operation with a fresh cache key (the key includes the document text)."""
    return f"{query} # {uuid.uuid4().hex}"


def health(base_url: str) -> dict[str, Any]:
    return httpx.get(f"{base_url}/health").json()["responseCache"]


@pytest.fixture(scope="module")
def cached(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingProxy, str]]:
    proxy, url = platform.proxied_gateway("e2e-gateway-cached", tmp_path_factory.mktemp("cached"))
    yield proxy, url
    proxy.close()


@pytest.fixture(scope="module")
def uncached(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingProxy, str]]:
    proxy, url = platform.proxied_gateway("e2e-gateway-uncached", tmp_path_factory.mktemp("uncached"),
                                          GATEWAY_RESPONSE_CACHE="0")
    yield proxy, url
    proxy.close()


@pytest.fixture(scope="module")
def manager(gateway: GraphQL) -> dict[str, str]:
    return bearer(login(gateway, *CATALOG_MANAGER)["accessToken"])


@pytest.fixture(scope="module")
def product(gateway: GraphQL, manager: dict[str, str]) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10].upper()
    payload = {"sku": f"RC-{tag}", "name": f"Cached lamp {tag}", "price": "10.00", "stockQuantity": 1}
    return gateway.data(CREATE_PRODUCT, {"input": payload}, headers=manager)["createProduct"]["product"]


def test_a_repeated_public_query_never_reaches_the_subgraph(cached):
    proxy, url = cached

    def five_hits_without_the_subgraph() -> None:
        # Earlier tests leave events in flight (stock reservations, cart checkouts): a catalog change
        # message may legitimately drop the lists mid-attempt, so an attempt that saw one is repeated
        # with a fresh query. A gateway that did not cache would fail every attempt.
        query = unique("{ products(first: 3) { totalCount edges { node { id name } } } }")
        before = len(proxy.requests)
        first = httpx.post(f"{url}/graphql", json={"query": query}).json()
        assert "errors" not in first and len(proxy.requests) == before + 1
        hits = health(url)["hit"]
        for _ in range(5):
            assert httpx.post(f"{url}/graphql", json={"query": query}).json() == first
        assert len(proxy.requests) == before + 1, "a cached answer must not call the subgraph"
        assert health(url)["hit"] == hits + 5

    eventually(five_hits_without_the_subgraph, timeout=30, interval=0.5)


def test_development_answers_say_when_they_come_from_the_cache(gateway):
    query = unique("{ categories { id name } }")
    assert "responseCache" not in gateway.execute(query).get("extensions", {})
    assert gateway.execute(query)["extensions"]["responseCache"] == {"hit": True}


def test_variables_are_part_of_the_key(gateway):
    ids = [edge["node"]["id"] for edge in gateway.data(unique(NEWEST))["products"]["edges"]][:2]
    query = unique(PRODUCT)
    assert [gateway.data(query, {"id": i})["product"]["id"] for i in ids * 2] == ids * 2


def test_the_cache_switch_turns_it_off(uncached):
    proxy, url = uncached
    query = unique("{ products(first: 1) { totalCount } }")
    before = len(proxy.requests)
    for _ in range(3):
        assert "errors" not in httpx.post(f"{url}/graphql", json={"query": query}).json()
    assert len(proxy.requests) == before + 3
    assert health(url) == {"enabled": False}


@needs_accounts
def test_a_mutation_through_the_gateway_is_visible_on_the_next_anonymous_read(gateway, manager, product):
    detail, page = unique(PRODUCT), unique(NEWEST)
    assert gateway.data(detail, {"id": product["id"]})["product"]["name"] == product["name"]
    assert gateway.execute(detail, {"id": product["id"]})["extensions"]["responseCache"] == {"hit": True}
    gateway.data(page)
    new_name = f"Renamed {uuid.uuid4().hex[:8]}"
    gateway.data(UPDATE_PRODUCT, {"id": product["id"], "input": {"name": new_name}}, headers=manager)
    # No polling: read-your-writes through the gateway.
    assert gateway.data(detail, {"id": product["id"]})["product"]["name"] == new_name
    created = gateway.data(CREATE_PRODUCT, {"input": {"sku": f"RC-{uuid.uuid4().hex[:10].upper()}", "name": "Newest lamp",
                                                      "price": "1.00", "stockQuantity": 1}}, headers=manager)
    newest = gateway.data(page)["products"]["edges"][0]["node"]
    assert newest["id"] == created["createProduct"]["product"]["id"]


@needs_accounts
def test_a_change_made_behind_the_gateways_back_is_visible_within_a_deadline(platform, gateway, manager, product):
    detail = unique(PRODUCT)
    gateway.data(detail, {"id": product["id"]})
    assert gateway.execute(detail, {"id": product["id"]})["extensions"]["responseCache"] == {"hit": True}
    new_name = f"Direct {uuid.uuid4().hex[:8]}"
    catalog = platform.subgraph("catalog")
    catalog.data(UPDATE_PRODUCT, {"id": product["id"], "input": {"name": new_name}}, headers=manager)

    def fresh() -> None:
        assert gateway.data(detail, {"id": product["id"]})["product"]["name"] == new_name

    eventually(fresh, timeout=3)


@needs_accounts
def test_precise_invalidation_keeps_other_products_cached(gateway, manager, product):
    edges = gateway.data(unique(NEWEST))["products"]["edges"]
    other_id = next(e["node"]["id"] for e in edges if e["node"]["id"] != product["id"])
    detail = unique(PRODUCT)
    gateway.data(detail, {"id": other_id})
    gateway.data(UPDATE_PRODUCT, {"id": product["id"], "input": {"name": f"Again {uuid.uuid4().hex[:6]}"}}, headers=manager)
    assert gateway.execute(detail, {"id": other_id})["extensions"]["responseCache"]["hit"] is True


@needs_accounts
def test_private_answers_are_never_shared(gateway):
    users = []
    for _ in range(2):
        email, password = f"rc-{uuid.uuid4().hex[:12]}@example.com", f"Pw-{uuid.uuid4().hex}"
        gateway.data(REGISTER, {"input": {"email": email, "password": password}})
        users.append((email, bearer(login(gateway, email, password)["accessToken"])))
    query = "{ me { email } products(first: 2) { edges { node { id } } } }"
    for _ in range(3):
        for email, headers in users:
            body = gateway.execute(query, headers=headers)
            assert body["data"]["me"]["email"] == email
            assert "responseCache" not in body.get("extensions", {})
        anonymous = gateway.execute(query)
        assert anonymous["data"]["me"] is None
    # An anonymous `me` is not stored either (it is user data, even when null).
    assert "responseCache" not in gateway.execute("{ me { id } }").get("extensions", {})
    # A public query is served from the shared cache to a shopper too, once the gateway checked the token
    # (tests/test_signed_in_cache.py covers logout, staff, expired and forged tokens).
    public = unique("{ categories { id } }")
    gateway.data(public)
    cached = gateway.execute(public, headers=users[0][1])
    assert cached["extensions"]["responseCache"] == {"hit": True}


@needs_accounts
def test_mutations_are_never_cached(gateway):
    email = f"rc-{uuid.uuid4().hex[:12]}@example.com"
    variables = {"input": {"email": email, "password": f"Pw-{uuid.uuid4().hex}"}}
    first = gateway.data(REGISTER, variables)["register"]["user"]
    assert first["email"] == email
    # Executed again, not served from a cache: a taken email answers like a new account (issue 13),
    # with a fresh id every time.
    again = gateway.data(REGISTER, variables)["register"]["user"]
    assert again["email"] == email and again["id"] != first["id"]


def test_redis_down_then_back(platform, private_redis):
    """Redis stopped: answers still come (from the subgraphs); Redis back: the subscription is re-established
    and every cached answer dropped (changes published meanwhile were missed)."""
    url = platform.start_gateway("e2e-gateway-private-redis", production=False,
                                 extra_env={"REDIS_URL": private_redis.url})
    client = platform.client(url)
    query = unique("{ products(first: 2) { edges { node { id } } } }")
    client.data(query)
    assert client.execute(query)["extensions"]["responseCache"] == {"hit": True}

    private_redis.stop()
    for _ in range(3):
        body = client.execute(query)
        assert body["data"]["products"]["edges"] and "responseCache" not in body.get("extensions", {})
    assert health(url)["error"] >= 1

    resubscribed = health(url)["invalidation"]["resubscribed"]
    private_redis.start()

    def back() -> None:
        assert health(url)["invalidation"]["resubscribed"] > resubscribed

    eventually(back, timeout=10)
    assert "responseCache" not in client.execute(query).get("extensions", {}), "dropped on reconnect"

    def cached_again() -> None:
        assert client.execute(query).get("extensions", {}).get("responseCache") == {"hit": True}

    eventually(cached_again, timeout=5)
