"""Signed-in callers and the gateway's response cache (docs/caching.md, layer 3): the gateway checks the
token itself (signature via the accounts JWKS, claims, the session registry in Redis) before answering a
cached public answer; staff have their own scope; a logged-out, expired or forged token never gets a
cached answer. A recording proxy in front of the catalog shows which requests reach the subgraph."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from common.testing.polling import eventually
from conftest import Platform, RecordingProxy, service_names
from test_response_cache import health, unique
from test_story_accounts import CATALOG_MANAGER, REGISTER, bearer, login

from devtools.env import service_env
from devtools.paths import ROOT, VENV_PYTHON
from devtools.services import services

pytestmark = pytest.mark.skipif("accounts" not in service_names(), reason="services.json has no accounts service yet")

LIST = "{ products(first: 3) { edges { node { id name price { amount currency } } } } }"


@pytest.fixture(scope="module")
def cached(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingProxy, str]]:
    proxy, url = platform.proxied_gateway("e2e-gateway-signed-in", tmp_path_factory.mktemp("signed-in"))
    # The gateway fetches the accounts JWKS at start-up; until it has the keys it fails closed (the
    # subgraphs answer). Wait for that, so the tests below count subgraph calls exactly.
    token = new_shopper(platform)["token"]

    def keys_loaded() -> None:
        post(url, LIST, bearer(token))
        assert health(url)["signedIn"]["accepted"] >= 1, health(url)["signedIn"]

    eventually(keys_loaded, timeout=30)
    yield proxy, url
    proxy.close()


def post(url: str, query: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query}, headers=headers or {}, timeout=20)
    assert response.status_code < 500, response.text
    return response.json()


def new_shopper(platform: Platform) -> dict[str, Any]:
    gateway = platform.client()
    email, password = f"si-{uuid.uuid4().hex[:12]}@example.com", f"Pw-{uuid.uuid4().hex}"
    gateway.data(REGISTER, {"input": {"email": email, "password": password}})
    session = login(gateway, email, password)
    return {"email": email, "password": password, "token": session["accessToken"], "id": session["user"]["id"]}


def refused(body: dict[str, Any]) -> bool:
    return body.get("data") is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# Earlier tests leave events in flight (stock reservations, cart checkouts): a catalog change message
# may legitimately drop cached lists in the middle of an attempt, so the cache assertions below run
# as attempts with fresh queries under `eventually`. A gateway that did not cache fails every attempt.


def test_a_shopper_token_is_answered_from_the_public_cache(platform, cached):
    proxy, url = cached
    shopper = new_shopper(platform)

    def served_from_the_public_cache() -> None:
        query = unique(LIST)
        before = len(proxy.requests)
        anonymous = post(url, query)
        assert "errors" not in anonymous and len(proxy.requests) == before + 1
        for _ in range(5):
            assert post(url, query, bearer(shopper["token"])) == anonymous
        assert len(proxy.requests) == before + 1, ("a signed-in read of a cached public answer must not call the subgraph",
                                                   health(url)["signedIn"])
        # And the other way round: a shopper's miss is stored where anonymous callers find it.
        other = unique(LIST)
        first = post(url, other, bearer(shopper["token"]))
        assert post(url, other) == first
        assert len(proxy.requests) == before + 2

    eventually(served_from_the_public_cache, timeout=30, interval=0.5)
    signed_in = health(url)["signedIn"]
    assert signed_in["enabled"] is True and signed_in["accepted"] >= 6


def test_staff_answers_have_their_own_scope(platform, cached):
    proxy, url = cached
    manager = bearer(login(platform.client(), *CATALOG_MANAGER)["accessToken"])

    def staff_scope() -> None:
        query = unique(LIST)
        post(url, query)
        before = len(proxy.requests)
        assert "errors" not in post(url, query, manager)
        assert len(proxy.requests) == before + 1, "staff must not be served the public answer"
        post(url, query, manager)
        assert len(proxy.requests) == before + 1, "the staff answer is cached for staff"

    eventually(staff_scope, timeout=30, interval=0.5)


def test_private_fields_are_never_cached_for_signed_in_callers(platform, cached):
    proxy, url = cached
    shopper = new_shopper(platform)
    query = unique("{ me { email } products(first: 2) { edges { node { id } } } }")
    before = len(proxy.requests)
    for _ in range(3):
        assert post(url, query, bearer(shopper["token"]))["data"]["me"]["email"] == shopper["email"]
    assert len(proxy.requests) == before + 3


def test_after_logout_even_a_cached_query_is_refused_within_a_second(platform, cached):
    proxy, url = cached
    shopper = new_shopper(platform)
    headers = bearer(shopper["token"])
    query = unique(LIST)
    post(url, query, headers)
    assert "errors" not in post(url, query, headers)  # cached now
    assert platform.client().data("mutation { logout { endedSessions } }", headers=headers)["logout"]["endedSessions"] == 1
    logged_out = time.monotonic()
    while not refused(body := post(url, query, headers)):
        assert "errors" not in body
        assert time.monotonic() - logged_out < 1.0, "a logged-out token was still served after a second"
        time.sleep(0.05)
    assert time.monotonic() - logged_out < 1.0
    before = len(proxy.requests)
    assert refused(post(url, query, headers))
    assert len(proxy.requests) == before + 1, "the refusal comes from the subgraph, not from the cache"
    assert "errors" not in post(url, query), "anonymous callers keep the cached answer"


def forged(token: str, **changes: Any) -> str:
    """The token with its payload changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def signed_by_accounts(claims: dict[str, Any]) -> str:
    """A token signed with the accounts service's own active key (as if accounts had issued it)."""
    service = next(s for s in services() if s["name"] == "accounts")
    script = f"import json; from accounts.tokens import _sign; print(_sign(json.loads({json.dumps(json.dumps(claims))})))"
    result = subprocess.run([str(VENV_PYTHON), "manage.py", "shell", "-c", script],
                            cwd=ROOT / service["project"], env=service_env(service),
                            capture_output=True, text=True, check=True, timeout=60)
    return result.stdout.strip().splitlines()[-1]


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_expired_and_forged_tokens_never_get_a_cached_answer(platform, cached):
    proxy, url = cached
    shopper = new_shopper(platform)
    query = unique(LIST)
    assert "errors" not in post(url, query, bearer(shopper["token"]))  # the public answer is cached
    now = int(time.time())
    real = claims_of(shopper["token"])
    expired = signed_by_accounts({**real, "jti": str(uuid.uuid4()), "iat": now - 600, "nbf": now - 600, "exp": now - 60})
    assert post(url, query, bearer(signed_by_accounts({**real, "jti": str(uuid.uuid4())}))) == post(url, query), \
        "a token signed by accounts with the shopper's live session is served (the probe works)"
    for token in (
        expired,
        forged(shopper["token"], staff=False, sub=str(uuid.uuid4())),
        forged(shopper["token"], exp=now + 3600),
        signed_by_accounts({**real, "jti": str(uuid.uuid4()), "typ": "refresh"}),
        signed_by_accounts({**real, "jti": str(uuid.uuid4()), "aud": "someone-else"}),
    ):
        before = len(proxy.requests)
        assert refused(post(url, query, bearer(token))), claims_of(token)
        assert len(proxy.requests) == before + 1, claims_of(token)
