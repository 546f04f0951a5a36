"""The per-process cache of verified tokens skips only the RSA signature and the claim parsing:
expiry, the key's presence in the JWKS and the session registry still decide every request."""

from __future__ import annotations

import time

import jwt
import pytest
from common.auth import registry
from common.auth import tokens as token_module
from common.auth.jwks import reset_jwks_client
from common.auth.testing import KeyPair

ME = "{ me }"


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args, **kwargs):
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(token_module.jwt, "decode", counting)
    return seen


def test_a_repeated_token_is_verified_once(api, tokens, signature_checks):
    token = tokens.mint().token
    for _ in range(3):
        assert api.code(ME, token=token) is None
    assert signature_checks == [token]


def test_with_the_cache_off_every_request_verifies(api, tokens, signature_checks, settings):
    settings.AUTH_VERIFIED_TOKEN_CACHE_SECONDS = 0
    token = tokens.mint().token
    for _ in range(2):
        assert api.code(ME, token=token) is None
    assert signature_checks == [token, token]


def test_a_cached_token_still_expires(api, tokens, monkeypatch):
    minted = tokens.mint(ttl=60)
    assert api.code(ME, token=minted.token) is None
    later = time.time() + 60 + 11  # past exp + the 10 s leeway
    monkeypatch.setattr(token_module.time, "time", lambda: later)
    assert api.execute(ME, token=minted.token)["errors"][0]["message"] == "Access token expired."


def test_a_cached_token_of_an_ended_session_is_refused(api, tokens):
    minted = tokens.mint()
    assert api.code(ME, token=minted.token) is None
    registry.end_session(session_id=minted.claims["sid"])
    token_module.clear_state_cache()  # the sub-second state cache aside: the registry decides
    assert api.code(ME, token=minted.token) == "UNAUTHENTICATED"


def test_a_cached_token_of_a_withdrawn_key_is_refused(api, tokens, accounts_stub):
    old_key = tokens.key
    minted = tokens.mint()
    assert api.code(ME, token=minted.token) is None
    accounts_stub.jwks_keys = [KeyPair(kid="replacement").jwk()]
    reset_jwks_client()  # the next key set no longer publishes the token's key
    try:
        assert api.code(ME, token=minted.token) == "UNAUTHENTICATED"
    finally:
        accounts_stub.jwks_keys = [old_key.jwk()]
        reset_jwks_client()


def test_a_forged_copy_of_a_cached_token_is_still_checked(api, tokens, signature_checks):
    """Another text (here: the signature of another token) is a cache miss, verified and refused."""
    good, other = tokens.mint().token, tokens.mint().token
    assert api.code(ME, token=good) is None
    forged = good.rsplit(".", 1)[0] + "." + other.rsplit(".", 1)[1]
    assert api.code(ME, token=forged) == "UNAUTHENTICATED"
