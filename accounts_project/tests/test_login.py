"""login and me: tokens per the platform JWT contract, one error for every bad credential."""

from __future__ import annotations

import time

import jwt
import pytest
from accounts import keys
from accounts.models import Session
from common.auth import registry

from tests.helpers import LOGIN, ME, PASSWORD, claims_of

pytestmark = pytest.mark.django_db


def test_login_issues_contract_tokens_and_a_session(gql, make_user, settings):
    manager = make_user("cat@example.com", roles=("catalog_manager",), is_staff=True)
    before = int(time.time())
    login = gql.login("cat@example.com")
    assert login["tokenType"] == "Bearer"

    header = jwt.get_unverified_header(login["accessToken"])
    assert header["alg"] == "RS256"
    assert header["kid"] == keys.keyring().active().kid
    public_key = keys.keyring().get(header["kid"]).public_key
    claims = jwt.decode(login["accessToken"], public_key, algorithms=["RS256"], audience="catalog-platform",
                        issuer="catalog-platform-accounts")
    assert set(claims) == {"iss", "aud", "sub", "exp", "iat", "nbf", "jti", "typ", "sid", "email", "roles", "perms", "staff"}
    assert claims["sub"] == str(manager.pk)
    assert claims["typ"] == "access"
    assert claims["sid"] == login["session"]["id"]
    assert claims["email"] == "cat@example.com"
    assert claims["roles"] == ["catalog_manager"]
    assert "catalog.add_product" in claims["perms"] and "orders.view_order" not in claims["perms"]
    assert claims["staff"] is True
    assert before <= claims["iat"] == claims["nbf"] <= claims["iat"] + 2
    assert claims["exp"] - claims["iat"] == settings.ACCOUNTS_ACCESS_TOKEN_TTL == 300

    refresh = claims_of(login["refreshToken"])
    assert refresh["typ"] == "refresh" and refresh["sid"] == claims["sid"] and refresh["jti"] != claims["jti"]
    assert refresh["exp"] - refresh["iat"] == settings.ACCOUNTS_REFRESH_TOKEN_TTL

    session = Session.objects.get(pk=claims["sid"])
    assert session.user == manager and session.is_alive and str(session.refresh_jti) == refresh["jti"]
    assert registry.check_token_state(session_id=claims["sid"], user_id=claims["sub"], jti=claims["jti"]) is None
    assert login["session"]["current"] is True
    assert login["user"]["email"] == "cat@example.com"


def test_admin_superuser_tokens_carry_every_permission(gql, make_user):
    make_user("root@example.com", roles=("admin",), is_staff=True, is_superuser=True)
    perms = claims_of(gql.login("root@example.com")["accessToken"])["perms"]
    assert {"catalog.add_product", "orders.change_order_status", "accounts.view_user"} <= set(perms)


def test_me_with_the_access_token(gql, user):
    token = gql.login("casey@example.com")["accessToken"]
    me = gql.data(ME, token=token)["me"]
    assert me == {"id": str(user.pk), "email": "casey@example.com", "roles": ["customer"], "permissions": ["orders.add_order"]}


def test_me_is_null_for_anonymous_callers(gql):
    assert gql.data(ME)["me"] is None


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer not.a.token", "Malformed token."),
        ("Basic dXNlcjpwYXNz", "Malformed Authorization header"),
        ("Bearer", "Malformed Authorization header"),
    ],
)
def test_bad_credentials_on_me_are_unauthenticated(gql, header, message):
    error = gql.error(ME, HTTP_AUTHORIZATION=header)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert message in error["message"]


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("casey@example.com", "Wrong-password-123"),  # wrong password
        ("nobody@example.com", PASSWORD),  # no such account
        ("inactive@example.com", PASSWORD),  # deactivated account
        ("casey@example.com", "x" * 10_000),  # absurdly long: refused before hashing
    ],
)
def test_wrong_credentials_are_unauthenticated_without_revealing_which(gql, user, make_user, email, password):
    make_user("inactive@example.com", is_active=False)
    error = gql.error(LOGIN, {"email": email, "password": password})
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert error["message"] == "Invalid email or password."
    assert not Session.objects.exists()


def test_refresh_token_is_not_an_access_token(gql, user):
    refresh = gql.login("casey@example.com")["refreshToken"]
    error = gql.error(ME, token=refresh)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Not an access token" in error["message"]


def test_token_from_another_issuer_or_audience_is_refused(gql, user, settings):
    token = gql.login("casey@example.com")["accessToken"]
    settings.AUTH_AUDIENCE = "someone-else"
    assert gql.error(ME, token=token)["extensions"]["code"] == "UNAUTHENTICATED"
    settings.AUTH_AUDIENCE = "catalog-platform"
    settings.AUTH_ISSUER = "another-issuer"
    assert gql.error(ME, token=token)["extensions"]["code"] == "UNAUTHENTICATED"


def test_expired_access_token_is_refused(gql, user, settings):
    settings.ACCOUNTS_ACCESS_TOKEN_TTL = -60  # issued already expired beyond the leeway
    token = gql.login("casey@example.com")["accessToken"]
    error = gql.error(ME, token=token)
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and error["message"] == "Token expired."


def test_login_upgrades_an_old_password_hash_to_argon2(gql, make_user, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    legacy = make_user("legacy@example.com")
    assert legacy.password.startswith("pbkdf2_sha256$")
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    gql.login("legacy@example.com")
    legacy.refresh_from_db()
    assert legacy.password.startswith("argon2$")


def _forge(header: dict, claims: dict, signature: bytes = b"") -> str:
    import base64
    import json as _json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([b64(_json.dumps(header).encode()), b64(_json.dumps(claims).encode()), b64(signature)])


@pytest.mark.parametrize("attack", ["alg_none", "hs256_with_public_key", "tampered", "unknown_kid", "not_yet_valid",
                                    "header_not_an_object", "two_segments"])
def test_accounts_rejects_forged_tokens(gql, user, attack, settings):
    from cryptography.hazmat.primitives import serialization

    login = gql.login("casey@example.com")
    token = login["accessToken"]
    claims = claims_of(token)
    key = keys.keyring().active()
    header = jwt.get_unverified_header(token)
    if attack == "alg_none":
        forged = _forge({"alg": "none", "kid": key.kid, "typ": "JWT"}, claims)
    elif attack == "hs256_with_public_key":
        public_pem = key.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        import hashlib
        import hmac

        unsigned = _forge({"alg": "HS256", "kid": key.kid, "typ": "JWT"}, claims).rsplit(".", 1)[0]
        signature = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
        forged = unsigned + "." + _forge({}, {}, signature).rsplit(".", 1)[1]
    elif attack == "tampered":
        head, _, signature = token.split(".")
        forged = ".".join([head, _forge({}, {**claims, "perms": ["catalog.delete_product"]}).split(".")[1], signature])
    elif attack == "unknown_kid":
        other = keys.new_private_key()
        forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "made-up"})
    elif attack == "not_yet_valid":
        forged = jwt.encode({**claims, "nbf": int(time.time()) + 3600}, key.private_key, algorithm="RS256",
                            headers={"kid": header["kid"]})
    elif attack == "header_not_an_object":
        forged = "WzFd." + token.split(".", 1)[1]
    else:
        forged = token.rsplit(".", 1)[0]
    error = gql.error(ME, token=forged)
    assert error["extensions"]["code"] == "UNAUTHENTICATED", error
    # The genuine token still works: the rejection is about the forgery.
    assert gql.data(ME, token=token)["me"]["email"] == "casey@example.com"
