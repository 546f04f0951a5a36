"""Signing keys: fetched from the (real, local) JWKS server, cached, rotated, refetched sparingly."""

from __future__ import annotations

import pytest
from common.auth.jwks import get_jwks_client, parse_jwks, reset_jwks_client
from common.auth.testing import KeyPair

ME = "{ me }"


@pytest.fixture
def fresh_client(settings, tokens):
    """A JWKS client with a long refresh interval (so rate limiting is observable)."""
    settings.AUTH_JWKS_MIN_REFRESH_SECONDS = 60
    settings.AUTH_JWKS_MAX_AGE_SECONDS = 300
    reset_jwks_client()
    yield
    reset_jwks_client()


def test_keys_are_fetched_once_and_cached(api, tokens, accounts_stub, fresh_client):
    before = accounts_stub.jwks_requests
    for _ in range(5):
        assert api.code(ME, token=tokens.mint().token) is None
    assert accounts_stub.jwks_requests - before == 1


def test_key_rotation(api, tokens, accounts_stub, fresh_client):
    old_key = tokens.key
    old_token = tokens.mint().token
    assert api.code(ME, token=old_token) is None
    client = get_jwks_client()
    assert client.fetch_count == 1

    # Accounts rotates: the new key signs, the old one is still published until its tokens expire.
    new_key = KeyPair(kid="rotated-2")
    accounts_stub.jwks_keys = [new_key.jwk(), old_key.jwk()]
    new_token = tokens.mint(key=new_key).token
    assert api.code(ME, token=new_token) is None  # unknown kid -> exactly one refetch
    assert client.fetch_count == 2
    assert api.code(ME, token=new_token) is None
    assert api.code(ME, token=old_token) is None  # the old key still verifies while in the JWKS
    assert client.fetch_count == 2

    # Made-up kids cannot force a fetch per request: refetches are rate limited.
    for n in range(5):
        assert api.code(ME, token=tokens.mint(key=KeyPair(kid=f"made-up-{n}")).token) == "UNAUTHENTICATED"
    assert client.fetch_count == 2


def test_retired_key_stops_verifying_after_the_key_set_expires(api, tokens, accounts_stub, settings):
    settings.AUTH_JWKS_MAX_AGE_SECONDS = 0  # every request sees an expired key set...
    settings.AUTH_JWKS_MIN_REFRESH_SECONDS = 0  # ...and may refetch it
    reset_jwks_client()
    old_key, new_key = tokens.key, KeyPair(kid="rotated-3")
    old_token = tokens.mint().token
    assert api.code(ME, token=old_token) is None
    accounts_stub.jwks_keys = [new_key.jwk()]  # the old key's tokens have all expired: it is retired
    assert api.code(ME, token=old_token) == "UNAUTHENTICATED"
    assert api.code(ME, token=tokens.mint(key=new_key).token) is None
    accounts_stub.jwks_keys = [old_key.jwk()]
    reset_jwks_client()


def test_accounts_unreachable_keeps_last_good_keys(api, tokens, accounts_stub, settings):
    settings.AUTH_JWKS_MAX_AGE_SECONDS = 0
    settings.AUTH_JWKS_MIN_REFRESH_SECONDS = 0
    reset_jwks_client()
    good = tokens.mint().token
    assert api.code(ME, token=good) is None
    client = get_jwks_client()
    fetches = client.fetch_count
    accounts_stub.jwks_down = True
    assert api.code(ME, token=good) is None  # refetch failed, cached keys still verify
    assert client.fetch_count > fetches
    unknown = tokens.mint(key=KeyPair(kid="while-down")).token
    assert api.code(ME, token=unknown) == "UNAUTHENTICATED"  # never a 500
    reset_jwks_client()


def test_failed_fetches_are_retried_sparingly(api, tokens, accounts_stub, fresh_client):
    accounts_stub.jwks_down = True
    for _ in range(5):
        assert api.code(ME, token=tokens.mint().token) == "UNAUTHENTICATED"
    # One routine attempt and one for the unknown kid, not one per request.
    assert get_jwks_client().fetch_count == 2


def test_only_rs256_public_signing_keys_are_trusted():
    good = KeyPair(kid="good").jwk()
    private = KeyPair(kid="private")
    leaked = {**private.jwk(), "d": "AQAB"}  # a published private key is a mistake: skip it
    document = {
        "keys": [
            good,
            leaked,
            {**KeyPair(kid="enc").jwk(), "use": "enc"},
            {**KeyPair(kid="ps").jwk(), "alg": "PS256"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {**KeyPair().jwk(), "kid": None},
            "not-a-key",
        ]
    }
    assert set(parse_jwks(document)) == {"good"}
