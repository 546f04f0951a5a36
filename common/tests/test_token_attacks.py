"""The JWT attack suite and how a present token is treated, on a graphene and an ariadne endpoint."""

from __future__ import annotations

import time

import pytest
from common.auth import registry
from common.auth.testing import ATTACKS
from common.auth.tokens import InvalidToken, verify_access_token
from redis.exceptions import ConnectionError as RedisConnectionError

ME = "{ me }"
PUBLIC = "{ public }"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_unauthenticated(api, tokens, attack):
    token = ATTACKS[attack](tokens)
    body = api.execute(ME, token=token)
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]
    # Even for an operation anybody may run: a bad token is never silently treated as anonymous.
    assert api.code(PUBLIC, token=token) == "UNAUTHENTICATED"


def test_valid_token_is_accepted(api, tokens):
    # The control for the attack suite: the same minter's honest token works.
    minted = tokens.mint(roles=["customer"])
    assert api.execute(ME, token=minted.token) == {"data": {"me": minted.user_id}}


def test_anonymous_may_read_public_but_not_protected(api, tokens):
    assert api.execute(PUBLIC) == {"data": {"public": "hello"}}
    assert api.code(ME) == "UNAUTHENTICATED"


def test_token_within_leeway_is_accepted(api, tokens):
    # exp 5 s ago, leeway 10 s: clocks of services may drift a little.
    minted = tokens.mint(now=time.time() - 305, ttl=300)
    assert api.code(ME, token=minted.token) is None


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token abc"])
def test_malformed_authorization_header_is_unauthenticated(api, tokens, header):
    assert api.code(ME, HTTP_AUTHORIZATION=header) == "UNAUTHENTICATED"


def test_rejection_says_bearer_invalid_token(client, tokens):
    response = client.post("/graphql/", {"query": ME}, content_type="application/json", HTTP_AUTHORIZATION="Bearer x.y.z")
    assert response.status_code == 200
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_expired_token_tells_the_client_to_refresh(api, tokens):
    minted = tokens.mint(now=time.time() - 3600)
    assert api.execute(ME, token=minted.token)["errors"][0]["message"] == "Access token expired."


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(lambda m: registry.set_user_active(user_id=m.user_id, active=False), id="deactivated user"),
        pytest.param(lambda m: registry.end_session(session_id=m.session_id), id="logged-out session"),
        pytest.param(lambda m: registry.end_user_sessions(user_id=m.user_id), id="all sessions ended"),
        pytest.param(lambda m: registry.revoke_token(jti=m.jti, expires_at=m.claims["exp"]), id="revoked jti"),
    ],
)
def test_state_change_is_enforced_within_one_second(api, tokens, end):
    minted = tokens.mint(roles=["customer"])
    assert api.code(ME, token=minted.token) is None  # accepted, and now in the short local cache
    end(minted)
    ended_at = time.monotonic()
    while api.code(ME, token=minted.token) is None:
        assert time.monotonic() - ended_at < 1.0, "token still accepted a second after its session state changed"
        time.sleep(0.02)
    assert time.monotonic() - ended_at < 1.0


def test_reactivated_user_is_accepted_again(api, tokens):
    minted = tokens.mint(roles=["customer"])
    registry.set_user_active(user_id=minted.user_id, active=False)
    assert api.code(ME, token=minted.token) == "UNAUTHENTICATED"
    registry.set_user_active(user_id=minted.user_id, active=True)
    deadline = time.monotonic() + 1.0
    while api.code(ME, token=minted.token) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_registry_outage_fails_closed(api, tokens, monkeypatch):
    minted = tokens.mint(roles=["customer"])

    def unavailable(**kwargs):
        raise RedisConnectionError("registry down")

    monkeypatch.setattr(registry, "check_token_state", unavailable)
    body = api.execute(ME, token=minted.token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "try again" in body["errors"][0]["message"]


def test_verified_claims(tokens):
    minted = tokens.mint(roles=["catalog_manager"], email="Ann@Example.com")
    claims = verify_access_token(minted.token)
    assert claims.user_id == minted.user_id
    assert claims.session_id == minted.session_id
    assert claims.token_id == minted.jti
    assert claims.roles == {"catalog_manager"}
    assert "catalog.add_product" in claims.perms
    assert claims.staff is True
    assert claims.email == "Ann@Example.com"


def test_oversized_token_is_rejected_before_parsing(tokens):
    with pytest.raises(InvalidToken):
        verify_access_token("a" * 10_000)
