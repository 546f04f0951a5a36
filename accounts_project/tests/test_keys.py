"""Signing keys: the JWKS endpoint, rotation (old tokens keep verifying), static keys from settings."""

from __future__ import annotations

import json
import time
from io import StringIO
from pathlib import Path

import jwt
import pytest
from accounts import keys
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from tests.helpers import ME, REFRESH

pytestmark = pytest.mark.django_db

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture
def fresh_keys(settings, tmp_path: Path) -> Path:
    """A key directory of this test only, so rotations do not leak into other tests."""
    settings.ACCOUNTS_SIGNING_KEYS_DIR = str(tmp_path / "keys")
    return tmp_path / "keys"


def verify_with_jwks(jwks: dict, token: str) -> dict:
    """What any standard verifier does: pick the JWK by kid from the published set."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    return jwt.decode(token, key.key, algorithms=["RS256"], audience="catalog-platform", issuer="catalog-platform-accounts")


def test_jwks_shape(client):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "max-age" in response["Cache-Control"]
    body = response.json()
    assert list(body) == ["keys"] and len(body["keys"]) >= 1
    for jwk in body["keys"]:
        assert {"kty": "RSA", "use": "sig", "alg": "RS256"}.items() <= jwk.items()
        assert jwk["kid"] and jwk["n"] and jwk["e"] == "AQAB"
        assert not PRIVATE_JWK_MEMBERS & set(jwk)
    assert client.post("/.well-known/jwks.json").status_code == 405


def test_a_token_verifies_against_the_published_jwks(client, gql, user):
    token = gql.login("casey@example.com")["accessToken"]
    claims = verify_with_jwks(client.get("/.well-known/jwks.json").json(), token)
    assert claims["sub"] == str(user.pk)


def test_kid_is_the_rfc7638_thumbprint(fresh_keys):
    key = keys.keyring().active()
    assert key.public_jwk()["kid"] == key.kid == keys.thumbprint(key.public_key)
    # Known vector from RFC 7638 section 3.1.
    rfc_jwk = {
        "kty": "RSA",
        "e": "AQAB",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3o"
             "knjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6"
             "qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJ"
             "zKnqDKgw",
    }
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(rfc_jwk))
    assert keys.thumbprint(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_rotation_new_tokens_use_the_new_kid_and_old_tokens_keep_working(client, gql, user, fresh_keys):
    before = gql.login("casey@example.com")
    old_kid = jwt.get_unverified_header(before["accessToken"])["kid"]

    out = StringIO()
    call_command("rotate_signing_key", stdout=out)
    assert "New signing key" in out.getvalue()

    after = gql.login("casey@example.com")
    new_kid = jwt.get_unverified_header(after["accessToken"])["kid"]
    assert new_kid != old_kid

    jwks = client.get("/.well-known/jwks.json").json()
    assert {jwk["kid"] for jwk in jwks["keys"]} == {old_kid, new_kid}
    # The token signed before the rotation still verifies through the JWKS, and is accepted.
    assert verify_with_jwks(jwks, before["accessToken"])["sub"] == str(user.pk)
    assert verify_with_jwks(jwks, after["accessToken"])["sub"] == str(user.pk)
    assert gql.data(ME, token=before["accessToken"])["me"]["email"] == "casey@example.com"
    # An old-key refresh token still refreshes, and the new pair is signed with the new key.
    refreshed = gql.data(REFRESH, {"token": before["refreshToken"]})["refreshToken"]
    assert jwt.get_unverified_header(refreshed["accessToken"])["kid"] == new_kid


def test_retired_keys_disappear_once_no_token_can_use_them(client, gql, user, fresh_keys):
    old = gql.login("casey@example.com")
    call_command("rotate_signing_key", stdout=StringIO())
    old_kid = jwt.get_unverified_header(old["accessToken"])["kid"]

    # Pretend the rotation happened longer ago than the longest token lifetime.
    manifest_path = fresh_keys / keys.KEYRING_FILE
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["keys"]:
        if entry["kid"] == old_kid:
            entry["retired_at"] = int(time.time()) - keys.max_token_lifetime() - 5
    manifest_path.write_text(json.dumps(manifest))

    assert old_kid not in {jwk["kid"] for jwk in client.get("/.well-known/jwks.json").json()["keys"]}
    error = gql.error(ME, token=old["accessToken"])
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and error["message"] == "Unknown signing key."
    call_command("rotate_signing_key", stdout=StringIO())  # the next rotation deletes the dead key file
    assert not (fresh_keys / f"{old_kid}.pem").exists()
    assert len(json.loads(manifest_path.read_text())["keys"]) == 2


def test_every_process_sees_a_rotation_made_by_another(fresh_keys):
    worker = keys.DirectoryKeyring(fresh_keys, autocreate=True)
    operator = keys.DirectoryKeyring(fresh_keys, autocreate=False)
    first = worker.active().kid
    rotated = operator.rotate()
    assert rotated is not None and worker.active().kid == rotated.kid != first
    assert worker.get(first) is not None


def test_private_keys_are_not_world_readable(fresh_keys):
    kid = keys.keyring().active().kid
    assert (fresh_keys / f"{kid}.pem").stat().st_mode & 0o077 == 0


def test_if_missing_provisions_the_first_key_once(settings, fresh_keys):
    settings.ACCOUNTS_SIGNING_KEYS_AUTOCREATE = False
    call_command("rotate_signing_key", "--if-missing", stdout=StringIO())
    first = keys.keyring().active().kid
    out = StringIO()
    call_command("rotate_signing_key", "--if-missing", stdout=out)
    assert "nothing to do" in out.getvalue()
    assert keys.keyring().active().kid == first
    assert [key.kid for key in keys.keyring().published()] == [first]


def test_without_autocreate_a_missing_key_is_a_clear_configuration_error(settings, fresh_keys):
    settings.ACCOUNTS_SIGNING_KEYS_AUTOCREATE = False
    with pytest.raises(ImproperlyConfigured, match="rotate_signing_key"):
        keys.keyring().active()


def test_static_key_from_settings_with_a_previous_key_still_published(settings, tmp_path, gql, user, client):
    def pem() -> str:
        return keys.new_private_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    previous_file = tmp_path / "previous.pem"
    previous_file.write_text(pem())
    settings.ACCOUNTS_SIGNING_KEY_PEM = pem()
    settings.ACCOUNTS_PREVIOUS_SIGNING_KEYS_FILES = [str(previous_file)]

    ring = keys.keyring()
    assert isinstance(ring, keys.StaticKeyring)
    token = gql.login("casey@example.com")["accessToken"]
    assert jwt.get_unverified_header(token)["kid"] == ring.active().kid
    assert len(client.get("/.well-known/jwks.json").json()["keys"]) == 2
    with pytest.raises(CommandError, match="ACCOUNTS_SIGNING_KEY_PEM"):
        call_command("rotate_signing_key", stdout=StringIO())
    out = StringIO()
    call_command("rotate_signing_key", "--if-missing", stdout=out)  # setup with production settings runs this
    assert "nothing to do" in out.getvalue()
    assert keys.keyring().active().kid == ring.active().kid
