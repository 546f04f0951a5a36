"""Layer 2b, the result cache: serialized answers kept with the data versions they were built
from, shared only between requests of the same scope (the catalog's: `public` for anonymous callers and
signed-in shoppers, `staff` for staff tokens)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis
from catalog import queries
from catalog.models import Product
from common.auth import registry
from common.cache.stats import counters
from common.graphql.documents import prepare
from django.conf import settings

pytestmark = pytest.mark.django_db(transaction=True)

DETAIL = "query($id: ID!) { product(id: $id) { id name stockQuantity category { name } } }"
UPDATE = "mutation($id: ID!, $name: String!) { updateProduct(id: $id, input: {name: $name}) { product { name } } }"


def result_counts(kind: str) -> dict[str, int]:
    return {result: value for (layer, k, result), value in counters.process.items() if layer == "result" and k == kind}


def answer_keys(prefix: str) -> list[bytes]:
    return list(redis.Redis.from_url(settings.REDIS_URL).scan_iter(match=f"{prefix}:rc:*"))



def metrics_token(settings) -> str:
    """/metrics/ needs METRICS_TOKEN outside DEBUG (common.metrics_access)."""
    settings.METRICS_TOKEN = "test-metrics-token"
    return "test-metrics-token"

def test_repeated_query_is_answered_without_executing(anon_gql, make_product, django_assert_num_queries, monkeypatch):
    product = make_product(name="Lamp")
    first = anon_gql.data(DETAIL, {"id": str(product.pk)})
    executions = []
    real = queries.get_product
    monkeypatch.setattr(queries, "get_product", lambda pk: executions.append(pk) or real(pk))
    with django_assert_num_queries(0):
        assert anon_gql.data(DETAIL, {"id": str(product.pk)}) == first
    assert executions == []  # no resolver ran
    assert result_counts("product") == {"miss": 1, "hit": 1}


def test_invalidation_is_precise_per_product(gql, anon_gql, make_product, django_assert_num_queries):
    lamp, chair = make_product(name="Lamp"), make_product(name="Chair")
    page = "{ products(first: 10) { edges { node { name } } } }"
    anon_gql.data(DETAIL, {"id": str(lamp.pk)})
    anon_gql.data(DETAIL, {"id": str(chair.pk)})
    anon_gql.data(page)
    gql.data(UPDATE, {"id": str(lamp.pk), "name": "Desk Lamp"})
    with django_assert_num_queries(0):
        assert anon_gql.data(DETAIL, {"id": str(chair.pk)})["product"]["name"] == "Chair"  # untouched: still served
    assert result_counts("product")["hit"] == 1
    with django_assert_num_queries(1):
        assert anon_gql.data(DETAIL, {"id": str(lamp.pk)})["product"]["name"] == "Desk Lamp"
    with django_assert_num_queries(1):
        names = [e["node"]["name"] for e in anon_gql.data(page)["products"]["edges"]]
    assert names == ["Chair", "Desk Lamp"]


def scopes_stored(prefix: str) -> set[str]:
    return {key.decode().split(":")[2] for key in answer_keys(prefix)}


def test_signed_in_shoppers_share_the_public_answers(anon_gql, tokens, make_product, isolated_cache,
                                                     django_assert_num_queries):
    product = make_product()
    public = anon_gql.data(DETAIL, {"id": str(product.pk)})
    shopper = anon_gql.as_token(tokens.mint(roles=["customer"]).token)
    with django_assert_num_queries(0):
        assert shopper.data(DETAIL, {"id": str(product.pk)}) == public  # served from `public`
    assert result_counts("product") == {"miss": 1, "hit": 1}
    assert scopes_stored(isolated_cache) == {"public"}


def test_staff_answers_are_kept_apart_from_the_public_ones(gql, anon_gql, make_product, isolated_cache):
    product = make_product()
    for _ in range(2):
        assert gql.data(DETAIL, {"id": str(product.pk)})["product"]["id"] == str(product.pk)  # a catalog manager
    assert result_counts("product") == {"miss": 1, "hit": 1}
    assert scopes_stored(isolated_cache) == {"staff"}
    anon_gql.data(DETAIL, {"id": str(product.pk)})
    assert result_counts("product") == {"miss": 2, "hit": 1}  # anonymous never read the staff answer
    assert scopes_stored(isolated_cache) == {"staff", "public"}


def test_invalid_tokens_and_session_cookies_never_touch_the_shared_cache(anon_gql, tokens, make_product,
                                                                          isolated_cache):
    product = make_product()
    anon_gql.data(DETAIL, {"id": str(product.pk)})
    revoked = tokens.mint(roles=["customer"])
    registry.end_session(session_id=revoked.session_id)
    answer = anon_gql.as_token(revoked.token).execute(DETAIL, {"id": str(product.pk)})
    assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert result_counts("product") == {"miss": 1}
    anon_gql.client.cookies[settings.SESSION_COOKIE_NAME] = "some-session"
    anon_gql.data(DETAIL, {"id": str(product.pk)})
    assert result_counts("product") == {"miss": 1}  # the admin's session is neither served nor stored


def user_scope(request: Any) -> str | None:
    """What a service with per-user answers plugs in as CACHE_RESULT_SCOPE."""
    return f"user-{request.auth.user_id}" if request.auth.is_authenticated else "public"


def test_a_scope_function_keeps_users_apart(anon_gql, tokens, make_product, settings, isolated_cache, monkeypatch):
    settings.CACHE_RESULT_SCOPE = f"{__name__}.user_scope"
    product = make_product(name="Shared")
    original = queries.get_product

    def per_user(product_id: Any) -> Any:  # pretend answers depend on the caller
        found = original(product_id)
        found.name = f"{found.name} for {request_user[0]}"
        return found

    monkeypatch.setattr(queries, "get_product", per_user)
    alice_token, bob_token = tokens.mint(), tokens.mint()
    as_alice, as_bob = anon_gql.as_token(alice_token.token), anon_gql.as_token(bob_token.token)
    request_user = ["alice"]
    alice = as_alice.data(DETAIL, {"id": str(product.pk)})
    request_user[0] = "bob"
    bob = as_bob.data(DETAIL, {"id": str(product.pk)})
    request_user[0] = "mallory"
    alice_again = as_alice.data(DETAIL, {"id": str(product.pk)})
    assert alice["product"]["name"] == "Shared for alice"
    assert bob["product"]["name"] == "Shared for bob"  # not alice's answer
    assert alice_again == alice  # alice's own cached answer
    scopes = {key.decode().split(":")[2] for key in answer_keys(isolated_cache)}
    assert scopes == {f"user-{alice_token.user_id}", f"user-{bob_token.user_id}"}


def test_mutations_and_answers_with_errors_are_not_stored(gql, anon_gql, make_product, isolated_cache, settings):
    settings.CACHE_RESULT_SCOPE = f"{__name__}.user_scope"  # signed-in requests may be cached too
    product = make_product()
    gql.data(UPDATE, {"id": str(product.pk), "name": "Renamed"})
    bad_cursor = "{ products(first: 2, after: \"garbage\") { edges { node { id } } } }"
    assert anon_gql.error(bad_cursor)["extensions"]["code"] == "BAD_USER_INPUT"
    assert anon_gql.error(bad_cursor)["extensions"]["code"] == "BAD_USER_INPUT"
    assert answer_keys(isolated_cache) == []


def test_answers_with_untracked_database_reads_are_not_stored(anon_gql, make_product, isolated_cache, monkeypatch):
    product = make_product()
    # A resolver that reads the database directly: the answer's dependencies are unknown.
    monkeypatch.setattr(queries, "get_product", lambda pk: Product.objects.filter(pk=pk).first())
    anon_gql.data(DETAIL, {"id": str(product.pk)})
    assert answer_keys(isolated_cache) == []
    assert result_counts("product") == {"uncacheable": 1}


def test_result_cache_alone_still_invalidates(anon_gql, make_product, settings, django_assert_num_queries):
    settings.CACHE_DATA_ENABLED = False  # versions are still recorded, values are not cached
    product = make_product(name="Before")
    anon_gql.data(DETAIL, {"id": str(product.pk)})
    with django_assert_num_queries(0):
        assert anon_gql.data(DETAIL, {"id": str(product.pk)})["product"]["name"] == "Before"
    Product._base_manager.filter(pk=product.pk).update(stock_quantity=9)  # bypasses the bridge
    product.refresh_from_db()
    product.name = "After"
    product.save()
    assert anon_gql.data(DETAIL, {"id": str(product.pk)})["product"] == {
        "id": str(product.pk),
        "name": "After",
        "stockQuantity": 9,
        "category": {"name": "Lighting"},
    }


def test_result_counters_on_metrics(anon_gql, client, make_product, settings):
    product = make_product()
    for _ in range(3):
        anon_gql.data(DETAIL, {"id": str(product.pk)})
    text = client.get("/metrics/", HTTP_X_METRICS_TOKEN=metrics_token(settings)).content.decode()
    assert re.search(r'layer="result",kind="product",result="hit",source="redis"\} 2', text)
    assert re.search(r'layer="result",kind="product",result="miss",source="redis"\} 1', text)


def test_documents_are_parsed_and_validated_once():
    from catalog.schema import schema

    first = prepare(schema.graphql_schema, "{ categories { name } }")
    assert prepare(schema.graphql_schema, "{ categories { name } }") is first
    invalid = prepare(schema.graphql_schema, "{ categories { nope } }")
    assert invalid.errors and "nope" in str(invalid.errors[0])
    broken = prepare(schema.graphql_schema, "{ categories {")
    assert broken.document is None and broken.errors


def test_api_answers_mint_no_csrf_cookie(client):
    # The endpoint is csrf_exempt; graphene-django's ensure_csrf_cookie is skipped for API calls.
    response = client.post("/graphql/", {"query": "{ categories { name } }"}, content_type="application/json")
    assert response.status_code == 200
    assert settings.CSRF_COOKIE_NAME not in response.cookies
    page = client.get("/graphql/", HTTP_ACCEPT="text/html")  # GraphiQL (dev settings) still gets it
    assert page.status_code == 200
    assert settings.CSRF_COOKIE_NAME in page.cookies
